#include "libs/eventlog/kafka_event_log.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/algorithm/container.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "libs/eventlog/kafka_session_watch.h"
#include "libs/logging/log.h"
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
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
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

// A tenth of the session, at most Kafka's default of 3 s: a member learns
// of a rebalance (from a heartbeat's answer) well before the coordinator
// stops waiting for it to join again.
int64_t HeartbeatIntervalMs(absl::Duration session_timeout) {
  return std::clamp<int64_t>(absl::ToInt64Milliseconds(session_timeout) / 10,
                             100, 3000);
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

std::vector<TopicPartition> ToTopicPartitions(
    const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<TopicPartition> out;
  for (const RdKafka::TopicPartition* tp : partitions) {
    out.push_back({tp->topic(), tp->partition()});
  }
  return out;
}

// Reads by hand-assigned partitions, or as a group member with the
// cooperative-sticky assignor: rebalances arrive from inside consume() and
// are passed on to the RebalanceListener.
class KafkaConsumer final : public LogConsumer, public RdKafka::RebalanceCb {
 public:
  KafkaConsumer(absl::Duration request_timeout, absl::Duration session_timeout)
      : timeout_ms_(
            static_cast<int>(absl::ToInt64Milliseconds(request_timeout))),
        session_timeout_(session_timeout) {}

  // To be watched by the configuration that creates the consumer.
  KafkaSessionWatch& session_watch() { return session_watch_; }

  // Set once, before any other call (the configuration that creates the
  // consumer names this object as its rebalance callback).
  void Attach(std::unique_ptr<RdKafka::KafkaConsumer> consumer) {
    consumer_ = std::move(consumer);
  }

  // Leaves the group, revoking what the member still reads.
  ~KafkaConsumer() override {
    if (consumer_ != nullptr) consumer_->close();
  }

  absl::Status Assign(const std::vector<Position>& positions) override {
    if (listener_ != nullptr) {
      return absl::FailedPreconditionError(
          "consumer: Assign on a consumer that subscribed");
    }
    std::vector<RdKafka::TopicPartition*> tps;
    for (const Position& p : positions) {
      tps.push_back(RdKafka::TopicPartition::create(
          p.topic_partition.topic, p.topic_partition.partition, p.offset));
    }
    absl::Status status = FromKafka(consumer_->assign(tps), "assign");
    RdKafka::TopicPartition::destroy(tps);
    if (status.ok()) {
      assigned_by_hand_ = true;
      start_.clear();
      for (const Position& p : positions) {
        if (p.offset < 0) continue;  // A logical offset: unknown here.
        start_[{p.topic_partition.topic, p.topic_partition.partition}] =
            p.offset;
      }
    }
    return status;
  }

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceListener& listener) override {
    if (assigned_by_hand_ || listener_ != nullptr) {
      return absl::FailedPreconditionError(
          "consumer: Subscribe on a consumer that already reads partitions");
    }
    listener_ = &listener;
    absl::Status status = FromKafka(consumer_->subscribe(topics), "subscribe");
    if (!status.ok()) listener_ = nullptr;
    return status;
  }

  absl::Status Seek(const std::vector<Position>& positions) override {
    std::vector<RdKafka::TopicPartition*> owned;
    RETURN_IF_ERROR(FromKafka(consumer_->assignment(owned), "assignment"));
    absl::Cleanup destroy = [&] { RdKafka::TopicPartition::destroy(owned); };
    for (const Position& p : positions) {
      if (p.offset < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "seek: offset ", p.offset, " in ", p.topic_partition.topic, "/",
            p.topic_partition.partition));
      }
      const bool reads = absl::c_any_of(owned, [&](const auto* tp) {
        return tp->topic() == p.topic_partition.topic &&
               tp->partition() == p.topic_partition.partition;
      });
      if (!reads) continue;
      std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(
          p.topic_partition.topic, p.topic_partition.partition, p.offset));
      // Also drops what was fetched ahead of the old position.
      RETURN_IF_ERROR(FromKafka(consumer_->seek(*tp, timeout_ms_), "seek"));
      start_[{p.topic_partition.topic, p.topic_partition.partition}] = p.offset;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records,
                                              absl::Duration timeout) override {
    std::vector<LogRecord> out;
    polled_ = &out;
    absl::Cleanup done = [this] { polled_ = nullptr; };
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
    while (out.size() < max_records) {
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(wait_ms));
      if (!refused_.ok()) return LeaveAfterRefusal();
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

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    in_rebalance_ = true;
    absl::Cleanup settled = [this] { in_rebalance_ = false; };
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      TakePartitions(consumer, partitions, cooperative);
    } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      GiveUpPartitions(ToTopicPartitions(partitions),
                       consumer->assignment_lost());
      if (cooperative) {
        Check(consumer->incremental_unassign(partitions));
      } else {
        Check(FromKafka(consumer->unassign(), "unassign"));
      }
    } else {
      // A failed rebalance: give up everything, as librdkafka asks.
      std::vector<RdKafka::TopicPartition*> owned;
      consumer->assignment(owned);
      GiveUpPartitions(ToTopicPartitions(owned), /*lost=*/true);
      RdKafka::TopicPartition::destroy(owned);
      Check(FromKafka(consumer->unassign(), "unassign"));
    }
  }

  int64_t RecordsBehind() override {
    std::vector<RdKafka::TopicPartition*> owned;
    if (consumer_->assignment(owned) != RdKafka::ERR_NO_ERROR) return 0;
    consumer_->position(owned);  // Local: what consume() has returned.
    int64_t behind = 0;
    for (const RdKafka::TopicPartition* tp : owned) {
      int64_t position = tp->offset();
      if (position < 0) {  // Nothing consumed yet: where reading starts.
        auto it = start_.find({tp->topic(), tp->partition()});
        if (it == start_.end()) continue;
        position = it->second;
      }
      int64_t low = 0, high = 0;
      // Cached from fetch responses: no request to a broker.
      if (consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low,
                                           &high) != RdKafka::ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      behind += std::max<int64_t>(high - position, 0);
    }
    RdKafka::TopicPartition::destroy(owned);
    return behind;
  }

  // A group member's commit is stored here and sent by librdkafka's
  // auto-commit timer, which runs on the thread that also sends the
  // member's JoinGroup requests and commits only between rebalances. A
  // commit sent by the member after its JoinGroup is answered only after
  // the coordinator elected the next generation, is refused as of an
  // illegal one, and librdkafka then counts the member's whole assignment
  // lost and resets its generation, so that its next commit fails alike:
  // with three instances partitions moved for minutes. Inside a rebalance
  // callback (the hand-over of revoked partitions) that thread waits on
  // the callback, and the commit is sent at once; a consumer that assigned
  // its partitions by hand has no generation and commits at once too.
  absl::Status Commit(const std::vector<Position>& positions) override {
    if (listener_ != nullptr) RETURN_IF_ERROR(Store(positions));
    if (listener_ != nullptr && !in_rebalance_) return absl::OkStatus();
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

  // Publishing stops a fifth of the session before the coordinator could
  // drop the member: what it sends may take that long to land.
  absl::Status CheckMembership() override {
    if (listener_ == nullptr) return absl::OkStatus();
    if (consumer_->assignment_lost()) {
      return absl::UnavailableError(
          "kafka group: this member's assignment is lost (its group dropped "
          "it); its partitions may be another member's");
    }
    const absl::Duration unheard = absl::Now() - session_watch_.LastHeard();
    if (unheard > session_timeout_ * 4 / 5) {
      return absl::UnavailableError(absl::StrCat(
          "kafka group: its coordinator has not answered this member for ",
          absl::FormatDuration(absl::Trunc(unheard, absl::Milliseconds(1))),
          " (session ", absl::FormatDuration(session_timeout_),
          "); its partitions may be another member's"));
    }
    return absl::OkStatus();
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
  // Reads `partitions` from where the listener says. A refusal still
  // assigns them (librdkafka's state must follow the group's), but Poll then
  // leaves the group without reading them.
  void TakePartitions(RdKafka::KafkaConsumer* consumer,
                      std::vector<RdKafka::TopicPartition*>& partitions,
                      bool cooperative) {
    const std::vector<TopicPartition> taken = ToTopicPartitions(partitions);
    absl::StatusOr<std::vector<Position>> positions =
        listener_ != nullptr && refused_.ok()
            ? listener_->Assigned(taken)
            : absl::StatusOr<std::vector<Position>>(
                  std::vector<Position>{});
    if (!positions.ok()) {
      refused_ = positions.status();
      refused_partitions_ = taken;
    }
    for (RdKafka::TopicPartition* tp : partitions) {
      tp->set_offset(RdKafka::Topic::OFFSET_STORED);
      if (!positions.ok()) continue;
      for (const Position& p : *positions) {
        if (p.topic_partition.topic == tp->topic() &&
            p.topic_partition.partition == tp->partition() &&
            p.offset >= 0) {
          tp->set_offset(p.offset);
          start_[{tp->topic(), tp->partition()}] = p.offset;
        }
      }
    }
    if (cooperative) {
      Check(consumer->incremental_assign(partitions));
    } else {
      Check(FromKafka(consumer->assign(partitions), "assign"));
    }
  }

  // Tells the listener (Lost when the group may have given them to another
  // member already), and drops what this poll read of them: the member
  // never saw those records, and their next owner reads them.
  void GiveUpPartitions(std::vector<TopicPartition> given_up, bool lost) {
    for (const TopicPartition& tp : given_up) {
      start_.erase({tp.topic, tp.partition});
    }
    given_up.erase(std::remove_if(given_up.begin(), given_up.end(),
                                  [&](const TopicPartition& tp) {
                                    return absl::c_linear_search(
                                        refused_partitions_, tp);
                                  }),
                   given_up.end());
    if (polled_ != nullptr) {
      polled_->erase(std::remove_if(polled_->begin(), polled_->end(),
                                    [&](const LogRecord& r) {
                                      return absl::c_linear_search(
                                          given_up, r.topic_partition);
                                    }),
                     polled_->end());
    }
    if (listener_ != nullptr && !given_up.empty()) {
      if (lost) {
        listener_->Lost(given_up);
      } else {
        listener_->Revoked(given_up);
      }
    }
  }

  // Hands over what the member still reads, then leaves the group (the
  // revocation librdkafka serves later no longer reaches the listener).
  absl::Status LeaveAfterRefusal() {
    absl::Status refused = refused_;
    std::vector<RdKafka::TopicPartition*> owned;
    consumer_->assignment(owned);
    GiveUpPartitions(ToTopicPartitions(owned), /*lost=*/false);
    RdKafka::TopicPartition::destroy(owned);
    listener_ = nullptr;
    consumer_->unsubscribe();
    refused_ = absl::OkStatus();
    refused_partitions_.clear();
    if (polled_ != nullptr) polled_->clear();
    return refused;
  }

  void Check(RdKafka::Error* error) {
    if (error == nullptr) return;
    STRATA_LOG(ERROR) << "kafka rebalance: " << error->str();
    delete error;
  }
  void Check(const absl::Status& status) {
    if (!status.ok()) STRATA_LOG(ERROR) << "kafka rebalance: " << status;
  }

  // Stores `positions` for the auto-commit timer (and for the commit
  // librdkafka makes of partitions it removes from the assignment).
  absl::Status Store(const std::vector<Position>& positions) {
    std::vector<RdKafka::TopicPartition*> tps;
    for (const Position& p : positions) {
      tps.push_back(RdKafka::TopicPartition::create(
          p.topic_partition.topic, p.topic_partition.partition, p.offset));
    }
    absl::Cleanup destroy = [&] { RdKafka::TopicPartition::destroy(tps); };
    RETURN_IF_ERROR(FromKafka(consumer_->offsets_store(tps), "commit"));
    for (const RdKafka::TopicPartition* tp : tps) {
      if (tp->err() != RdKafka::ERR_NO_ERROR) {
        // Revoked meanwhile: its next owner commits it.
        return absl::UnavailableError(
            absl::StrCat("commit: ", tp->topic(), "/", tp->partition(),
                         " is not assigned to this member: ",
                         RdKafka::err2str(tp->err())));
      }
    }
    return absl::OkStatus();
  }

  KafkaSessionWatch session_watch_;  // Outlives consumer_, which calls it.
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  int timeout_ms_;
  const absl::Duration session_timeout_;
  // Both read and set on the polling thread (callbacks run in consume()).
  bool in_rebalance_ = false;
  bool assigned_by_hand_ = false;
  RebalanceListener* listener_ = nullptr;  // Set while subscribed.
  // What the listener refused, until Poll leaves the group for it.
  absl::Status refused_;
  std::vector<TopicPartition> refused_partitions_;
  // Where reading each partition started, when known: the position of a
  // partition nothing was consumed from yet.
  std::map<std::pair<std::string, int32_t>, int64_t> start_;
  // The records the running Poll has read so far; null outside Poll.
  std::vector<LogRecord>* polled_ = nullptr;
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
                            // Sends what Commit stored; see Commit.
                            {"enable.auto.commit", "true"},
                            {"auto.commit.interval.ms",
                             std::to_string(absl::ToInt64Milliseconds(
                                 options_.group_commit_interval))},
                            {"enable.auto.offset.store", "false"},
                            {"enable.partition.eof", "false"},
                            {"auto.offset.reset", "earliest"},
                            {"partition.assignment.strategy",
                             "cooperative-sticky"},
                            {"session.timeout.ms",
                             std::to_string(absl::ToInt64Milliseconds(
                                 options_.group_session_timeout))},
                            {"heartbeat.interval.ms",
                             std::to_string(HeartbeatIntervalMs(
                                 options_.group_session_timeout))},
                            {"fetch.wait.max.ms",
                             std::to_string(options_.fetch_wait_max_ms)}}));
    auto wrapper = std::make_unique<KafkaConsumer>(
        options_.request_timeout, options_.group_session_timeout);
    RETURN_IF_ERROR(wrapper->session_watch().Watch(*conf));
    std::string error;
    if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(
                                      wrapper.get()),
                  error) != RdKafka::Conf::CONF_OK) {
      return absl::InternalError(error);
    }
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf.get(), error));
    if (consumer == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka consumer: ", error));
    }
    wrapper->Attach(std::move(consumer));
    return std::unique_ptr<LogConsumer>(std::move(wrapper));
  }

 private:
  // The partition's (low, high) watermarks. This handle follows no topic,
  // so nothing refreshes its idea of who leads a partition: when the leader
  // moved, it asks for fresh metadata and tries again.
  absl::StatusOr<std::pair<int64_t, int64_t>> Watermarks(
      const TopicPartition& tp) {
    int64_t low = 0, high = 0;
    RdKafka::ErrorCode err = metadata_->query_watermark_offsets(
        tp.topic, tp.partition, &low, &high, timeout_ms_);
    if (IsStaleLeader(err)) {
      RdKafka::Metadata* raw = nullptr;
      if (metadata_->metadata(true, nullptr, &raw, timeout_ms_) ==
          RdKafka::ERR_NO_ERROR) {
        delete raw;
      }
      err = metadata_->query_watermark_offsets(tp.topic, tp.partition, &low,
                                               &high, timeout_ms_);
    }
    RETURN_IF_ERROR(FromKafka(
        err, absl::StrCat("watermarks of ", tp.topic, "/", tp.partition)));
    return std::make_pair(low, high);
  }

  static bool IsStaleLeader(RdKafka::ErrorCode err) {
    return err == RdKafka::ERR_NOT_LEADER_FOR_PARTITION ||
           err == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
           err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
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
