#include "libs/eventlog/kafka_event_log.h"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace strata::eventlog {
namespace {

absl::Status FromKafka(RdKafka::ErrorCode code, absl::string_view context) {
  if (code == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  const std::string message =
      absl::StrCat(context, ": ", RdKafka::err2str(code));
  switch (code) {
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::NotFoundError(message);
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
      return absl::InvalidArgumentError(message);
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// Errors a consumer sees while the cluster heals; librdkafka retries them.
bool IsTransient(RdKafka::ErrorCode code) {
  return code == RdKafka::ERR__TRANSPORT ||
         code == RdKafka::ERR__ALL_BROKERS_DOWN ||
         code == RdKafka::ERR__RESOLVE || code == RdKafka::ERR__TIMED_OUT;
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    const KafkaEventLogOptions& options,
    const std::map<std::string, std::string>& role_config) {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> config = role_config;
  config["bootstrap.servers"] = options.brokers;
  config["client.id"] = options.client_id;
  for (const auto& [name, value] : options.extra_config) config[name] = value;
  std::string error;
  for (const auto& [name, value] : config) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka config ", name, "=", value, ": ", error));
    }
  }
  return conf;
}

// Counts the deliveries of one Append call.
struct AppendTracker {
  std::mutex mu;
  std::condition_variable done;
  size_t pending = 0;
  RdKafka::ErrorCode first_error = RdKafka::ERR_NO_ERROR;
};

class DeliveryReporter final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* tracker = static_cast<AppendTracker*>(message.msg_opaque());
    std::lock_guard<std::mutex> lock(tracker->mu);
    if (message.err() != RdKafka::ERR_NO_ERROR &&
        tracker->first_error == RdKafka::ERR_NO_ERROR) {
      tracker->first_error = message.err();
    }
    if (--tracker->pending == 0) tracker->done.notify_all();
  }
};

class KafkaConsumer final : public LogConsumer {
 public:
  KafkaConsumer(std::unique_ptr<RdKafka::KafkaConsumer> consumer,
                absl::Duration request_timeout)
      : consumer_(std::move(consumer)),
        timeout_ms_(
            static_cast<int>(absl::ToInt64Milliseconds(request_timeout))) {}

  ~KafkaConsumer() override { consumer_->close(); }

  absl::Status Assign(const std::vector<Position>& positions) override {
    std::vector<RdKafka::TopicPartition*> tps;
    for (const Position& p : positions) {
      tps.push_back(RdKafka::TopicPartition::create(
          p.topic_partition.topic, p.topic_partition.partition, p.offset));
    }
    absl::Status status = FromKafka(consumer_->assign(tps), "assign");
    RdKafka::TopicPartition::destroy(tps);
    return status;
  }

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records,
                                              absl::Duration timeout) override {
    std::vector<LogRecord> out;
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
    while (out.size() < max_records) {
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(wait_ms));
      wait_ms = 0;  // Only the first record is waited for.
      const RdKafka::ErrorCode err = message->err();
      if (err == RdKafka::ERR__TIMED_OUT) break;
      if (err == RdKafka::ERR__PARTITION_EOF || IsTransient(err)) continue;
      if (err != RdKafka::ERR_NO_ERROR) {
        if (!out.empty()) break;  // Hand over what was read; it recurs.
        return FromKafka(err, "consume");
      }
      LogRecord record;
      record.topic_partition = {message->topic_name(), message->partition()};
      record.offset = message->offset();
      record.timestamp_ms = message->timestamp().timestamp;
      if (message->key() != nullptr) record.key = *message->key();
      record.value.assign(static_cast<const char*>(message->payload()),
                          message->len());
      out.push_back(std::move(record));
    }
    return out;
  }

  absl::Status Commit(const std::vector<Position>& positions) override {
    std::vector<RdKafka::TopicPartition*> tps;
    for (const Position& p : positions) {
      tps.push_back(RdKafka::TopicPartition::create(
          p.topic_partition.topic, p.topic_partition.partition, p.offset));
    }
    RdKafka::ErrorCode err = consumer_->commitSync(tps);
    RdKafka::TopicPartition::destroy(tps);
    if (err == RdKafka::ERR__NO_OFFSET) return absl::OkStatus();
    return FromKafka(err, "commit");
  }

  absl::StatusOr<int64_t> Committed(const TopicPartition& tp) override {
    std::vector<RdKafka::TopicPartition*> tps = {
        RdKafka::TopicPartition::create(tp.topic, tp.partition)};
    RdKafka::ErrorCode err = consumer_->committed(tps, timeout_ms_);
    const int64_t offset = tps[0]->offset();
    const RdKafka::ErrorCode partition_err = tps[0]->err();
    RdKafka::TopicPartition::destroy(tps);
    RETURN_IF_ERROR(FromKafka(err, "committed"));
    RETURN_IF_ERROR(FromKafka(partition_err, "committed"));
    return offset < 0 ? kNoOffset : offset;
  }

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  int timeout_ms_;
};

class KafkaEventLog final : public EventLog {
 public:
  explicit KafkaEventLog(const KafkaEventLogOptions& options)
      : options_(options),
        timeout_ms_(static_cast<int>(
            absl::ToInt64Milliseconds(options.request_timeout))) {}

  ~KafkaEventLog() override {
    if (producer_ != nullptr) producer_->flush(timeout_ms_);
    stop_ = true;
    if (poller_.joinable()) poller_.join();
  }

  absl::Status Open() {
    ASSIGN_OR_RETURN(
        std::unique_ptr<RdKafka::Conf> conf,
        MakeConf(options_, {{"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"compression.type", "lz4"},
                            {"linger.ms", std::to_string(options_.linger_ms)},
                            {"message.timeout.ms",
                             std::to_string(absl::ToInt64Milliseconds(
                                 options_.delivery_timeout))}}));
    std::string error;
    if (conf->set("dr_cb", &reporter_, error) != RdKafka::Conf::CONF_OK) {
      return absl::InternalError(error);
    }
    producer_.reset(RdKafka::Producer::create(conf.get(), error));
    if (producer_ == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka producer: ", error));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> metadata_conf,
                     MakeConf(options_, {}));
    metadata_.reset(RdKafka::Consumer::create(metadata_conf.get(), error));
    if (metadata_ == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka metadata: ", error));
    }
    poller_ = std::thread([this] {
      while (!stop_) producer_->poll(50);
    });
    return absl::OkStatus();
  }

  absl::StatusOr<int32_t> PartitionCount(absl::string_view topic) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = partitions_.find(topic);
      if (it != partitions_.end()) return it->second;
    }
    // Asking for every topic rather than this one: a request naming a
    // topic lets brokers with auto.create.topics.enable create it.
    RdKafka::Metadata* raw = nullptr;
    RETURN_IF_ERROR(
        FromKafka(metadata_->metadata(true, nullptr, &raw, timeout_ms_),
                  absl::StrCat("metadata for topic '", topic, "'")));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->topic() != topic) continue;
      if (t->err() != RdKafka::ERR_NO_ERROR || t->partitions()->empty()) {
        return absl::NotFoundError(
            absl::StrCat("topic '", topic, "' does not exist"));
      }
      const int32_t count = static_cast<int32_t>(t->partitions()->size());
      std::lock_guard<std::mutex> lock(mu_);
      partitions_[std::string(topic)] = count;
      return count;
    }
    return absl::NotFoundError(
        absl::StrCat("topic '", topic, "' does not exist"));
  }

  absl::Status Append(absl::string_view topic,
                      absl::Span<const AppendRecord> records) override {
    if (records.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(int32_t partitions, PartitionCount(topic));
    for (const AppendRecord& r : records) {
      if (r.partition >= partitions) {
        return absl::InvalidArgumentError(
            absl::StrCat("partition ", r.partition, " out of range for topic '",
                         topic, "' with ", partitions, " partitions"));
      }
    }
    AppendTracker tracker;
    const std::string topic_name(topic);
    absl::Status status;
    size_t produced = 0;
    for (const AppendRecord& r : records) {
      const int32_t partition =
          r.partition >= 0 ? r.partition : PartitionForKey(r.key, partitions);
      {
        std::lock_guard<std::mutex> lock(tracker.mu);
        ++tracker.pending;
      }
      while (true) {
        RdKafka::ErrorCode err = producer_->produce(
            topic_name, partition, RdKafka::Producer::RK_MSG_COPY,
            const_cast<char*>(r.value.data()), r.value.size(), r.key.data(),
            r.key.size(), 0, &tracker);
        if (err == RdKafka::ERR__QUEUE_FULL) {
          producer_->poll(10);  // Make room by serving delivery reports.
          continue;
        }
        if (err != RdKafka::ERR_NO_ERROR) {
          std::lock_guard<std::mutex> lock(tracker.mu);
          --tracker.pending;
          status = FromKafka(err, absl::StrCat("produce to '", topic, "'"));
        }
        break;
      }
      if (!status.ok()) break;
      ++produced;
    }
    // Records already handed to librdkafka reference `tracker`: wait for all
    // of them even when a later one failed.
    std::unique_lock<std::mutex> lock(tracker.mu);
    tracker.done.wait(lock, [&] { return tracker.pending == 0; });
    RETURN_IF_ERROR(status);
    return FromKafka(tracker.first_error,
                     absl::StrCat("append to '", topic, "'"));
  }

  absl::StatusOr<int64_t> EndOffset(const TopicPartition& tp) override {
    ASSIGN_OR_RETURN(auto watermarks, Watermarks(tp));
    return watermarks.second;
  }

  absl::StatusOr<int64_t> StartOffset(const TopicPartition& tp) override {
    ASSIGN_OR_RETURN(auto watermarks, Watermarks(tp));
    return watermarks.first;
  }

  absl::StatusOr<std::unique_ptr<LogConsumer>> NewConsumer(
      absl::string_view group) override {
    if (group.empty()) return absl::InvalidArgumentError("group: empty");
    ASSIGN_OR_RETURN(
        std::unique_ptr<RdKafka::Conf> conf,
        MakeConf(options_, {{"group.id", std::string(group)},
                            {"enable.auto.commit", "false"},
                            {"enable.auto.offset.store", "false"},
                            {"enable.partition.eof", "false"},
                            {"auto.offset.reset", "earliest"},
                            {"fetch.wait.max.ms",
                             std::to_string(options_.fetch_wait_max_ms)}}));
    std::string error;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf.get(), error));
    if (consumer == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka consumer: ", error));
    }
    return std::unique_ptr<LogConsumer>(
        new KafkaConsumer(std::move(consumer), options_.request_timeout));
  }

 private:
  // The partition's (low, high) watermarks.
  absl::StatusOr<std::pair<int64_t, int64_t>> Watermarks(
      const TopicPartition& tp) {
    int64_t low = 0, high = 0;
    RETURN_IF_ERROR(
        FromKafka(metadata_->query_watermark_offsets(tp.topic, tp.partition,
                                                     &low, &high, timeout_ms_),
                  absl::StrCat("watermarks of ", tp.topic, "/", tp.partition)));
    return std::make_pair(low, high);
  }

  const KafkaEventLogOptions options_;
  const int timeout_ms_;
  DeliveryReporter reporter_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::Consumer> metadata_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
  std::mutex mu_;
  absl::flat_hash_map<std::string, int32_t> partitions_;  // Guarded by mu_.
};

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> OpenKafkaEventLog(
    const KafkaEventLogOptions& options) {
  if (options.brokers.empty())
    return absl::InvalidArgumentError("brokers: empty");
  auto log = std::make_unique<KafkaEventLog>(options);
  RETURN_IF_ERROR(log->Open());
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace strata::eventlog
