#include "services/rollup/watch_service.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/grpcutil/status_conversion.h"
#include "libs/logging/log.h"
#include "libs/status/quote.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"
#include "services/rollup/resume_token.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {
namespace {

// Which records a stream passes on.
class Filter {
 public:
  Filter(const v1::WatchRollupsRequest& request,
         DefinitionsFollower& definitions)
      : kpis_(request.kpi_ids().begin(), request.kpi_ids().end()),
        unit_(request.unit_id()),
        definitions_(definitions) {}

  bool Passes(const v1::RollupKey& key) const {
    if (!kpis_.empty() && !kpis_.contains(key.kpi_id())) return false;
    if (unit_.empty()) return true;
    // A unit defined just now may not have been read here yet.
    auto knows = [&](const Definitions& d) {
      return d.FindUnit(key.unit_id()).has_value();
    };
    std::shared_ptr<const Definitions> defs =
        definitions_.CurrentSatisfying(knows);
    std::optional<UnitIndex> unit = defs->FindUnit(key.unit_id());
    std::optional<UnitIndex> root = defs->FindUnit(unit_);
    return unit && root && defs->InSubtree(*unit, *root);
  }

 private:
  absl::flat_hash_set<std::string> kpis_;
  std::string unit_;
  DefinitionsFollower& definitions_;
};

class Rejected final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Rejected(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

// One WatchRollups call: a reading thread queues records, gRPC writes them
// one at a time.
class WatchService::Stream final
    : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  Stream(std::unique_ptr<eventlog::LogConsumer> consumer,
         std::vector<int64_t> next, Filter filter, std::atomic<int>& streams)
      : consumer_(std::move(consumer)),
        next_(std::move(next)),
        filter_(std::move(filter)),
        streams_(streams) {
    StartSendInitialMetadata();  // The stream is live.
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "rollup-watch");
      Read();
    });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    queue_.pop_front();
    if (finished_) {
      // Finished (cancelled, failed) while this write was out: now.
      Finish(pending_finish_);
    } else if (!ok) {
      FinishLocked(absl::UnavailableError("write failed"));
    } else if (!queue_.empty()) {
      WriteNextLocked();
    }
    space_.notify_all();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(absl::CancelledError());
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    space_.notify_all();
    thread_.join();
    --streams_;
    delete this;
  }

 private:
  void Read() {
    while (!Finished()) {
      auto records = consumer_->Poll(256, absl::Milliseconds(200));
      if (!records.ok()) {
        STRATA_LOG(WARNING) << "rollup: watch stream: " << records.status();
        std::lock_guard<std::mutex> lock(mu_);
        FinishLocked(records.status());
        return;
      }
      for (const eventlog::LogRecord& r : *records) {
        next_[r.topic_partition.partition] = r.offset + 1;
        v1::WatchRollupsResponse response;
        if (!response.mutable_record()->ParseFromString(r.value)) {
          STRATA_LOG(ERROR) << "rollup: watch: skipping malformed record "
                            << r.topic_partition.partition << "@" << r.offset;
          continue;
        }
        if (!filter_.Passes(response.record().key())) continue;
        response.set_resume_token(EncodeResumeToken(next_));
        if (!Enqueue(ToByteBuffer(response))) return;
      }
    }
  }

  // Waits while the client is kMaxQueuedRecords behind; false once over.
  bool Enqueue(grpc::ByteBuffer bytes) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] {
      return finished_ || queue_.size() < kMaxQueuedRecords;
    });
    if (finished_) return false;
    queue_.push_back(std::move(bytes));
    if (!writing_) WriteNextLocked();
    return true;
  }

  bool Finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }

  void WriteNextLocked() {
    writing_ = true;
    StartWrite(&queue_.front());
  }

  void FinishLocked(const absl::Status& status) {
    if (finished_) return;
    finished_ = true;
    space_.notify_all();
    if (writing_) {
      pending_finish_ = ToGrpcStatus(status);  // Once the write completes.
    } else {
      Finish(ToGrpcStatus(status));
    }
  }

  std::unique_ptr<eventlog::LogConsumer> consumer_;
  std::vector<int64_t> next_;  // Per partition; only the thread touches it.
  const Filter filter_;
  std::atomic<int>& streams_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable space_;
  std::deque<grpc::ByteBuffer> queue_;  // Guarded by mu_.
  bool writing_ = false;                // Guarded by mu_.
  bool finished_ = false;               // Guarded by mu_.
  grpc::Status pending_finish_;         // Guarded by mu_.
};

absl::Status WatchService::CheckFilters(const v1::WatchRollupsRequest& request) {
  auto knows = [&](const Definitions& d) {
    for (const std::string& kpi : request.kpi_ids()) {
      if (!d.FindKpi(kpi)) return false;
    }
    return request.unit_id().empty() || d.FindUnit(request.unit_id());
  };
  std::shared_ptr<const Definitions> defs = definitions_.CurrentSatisfying(knows);
  for (int i = 0; i < request.kpi_ids_size(); ++i) {
    if (!defs->FindKpi(request.kpi_ids(i))) {
      return absl::NotFoundError(absl::StrCat(
          "kpi_ids[", i, "]: unknown KPI ", Quoted(request.kpi_ids(i))));
    }
  }
  if (!request.unit_id().empty() && !defs->FindUnit(request.unit_id())) {
    return absl::NotFoundError(
        absl::StrCat("unit_id: unknown unit ", Quoted(request.unit_id())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<eventlog::Position>> WatchService::StartPositions(
    const v1::WatchRollupsRequest& request) {
  ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(kRollupsTopic));
  std::vector<int64_t> resume;
  if (!request.resume_token().empty()) {
    ASSIGN_OR_RETURN(resume,
                     ParseResumeToken(request.resume_token(), partitions));
  }
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    const eventlog::TopicPartition tp{std::string(kRollupsTopic), p};
    ASSIGN_OR_RETURN(int64_t start, log_.StartOffset(tp));
    ASSIGN_OR_RETURN(int64_t end, log_.EndOffset(tp));
    int64_t offset = request.from_beginning() ? start : end;
    if (!resume.empty()) {
      offset = resume[p];
      if (offset > end) {
        return absl::InvalidArgumentError(absl::StrCat(
            "resume_token: partition ", p, " at offset ", offset,
            " is past the changelog's end (", end,
            "): a token from another deployment?"));
      }
      if (offset < start) {
        return absl::OutOfRangeError(absl::StrCat(
            "resume_token: partition ", p, " resumes at offset ", offset,
            ", but the log holds it from ", start,
            " only; records were deleted since: start again with "
            "from_beginning"));
      }
    }
    positions.push_back({tp, offset});
  }
  return positions;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchService::WatchRollups(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes) {
  v1::WatchRollupsRequest request;
  if (absl::Status parsed = ParseRequest(*bytes, request); !parsed.ok()) {
    return new Rejected(parsed);
  }
  if (absl::Status valid = CheckFilters(request); !valid.ok()) {
    return new Rejected(valid);
  }
  absl::StatusOr<std::vector<eventlog::Position>> positions =
      StartPositions(request);
  if (!positions.ok()) return new Rejected(positions.status());
  if (++streams_ > kMaxWatchStreams) {
    --streams_;
    return new Rejected(absl::ResourceExhaustedError(absl::StrCat(
        "already ", kMaxWatchStreams, " rollup streams; retry later")));
  }
  auto consumer = log_.NewConsumer("strata-rollup-watch");
  absl::Status assigned =
      consumer.ok() ? (*consumer)->Assign(*positions) : consumer.status();
  if (!assigned.ok()) {
    --streams_;
    return new Rejected(assigned);
  }
  std::vector<int64_t> next;
  for (const eventlog::Position& p : *positions) next.push_back(p.offset);
  return new Stream(*std::move(consumer), std::move(next),
                    Filter(request, definitions_), streams_);
}

}  // namespace strata::rollup
