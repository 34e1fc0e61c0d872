#include "libs/eventlog/kafka_session_watch.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace strata::eventlog {
namespace {

// Kafka protocol requests that keep a member's session.
constexpr int16_t kJoinGroup = 11;
constexpr int16_t kHeartbeat = 12;
constexpr int16_t kSyncGroup = 14;

bool KeepsSession(int16_t api_key) {
  return api_key == kJoinGroup || api_key == kHeartbeat ||
         api_key == kSyncGroup;
}

constexpr char kName[] = "strata-session-watch";

rd_kafka_resp_err_t OnRequestSent(rd_kafka_t*, int, const char*, int32_t,
                                  int16_t api_key, int16_t, int32_t, size_t,
                                  void* watch) {
  static_cast<KafkaSessionWatch*>(watch)->RequestSent(api_key);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnResponseReceived(rd_kafka_t*, int, const char*,
                                       int32_t, int16_t api_key, int16_t,
                                       int32_t, size_t, int64_t,
                                       rd_kafka_resp_err_t err, void* watch) {
  static_cast<KafkaSessionWatch*>(watch)->ResponseReceived(
      api_key, err == RD_KAFKA_RESP_ERR_NO_ERROR);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t*, void* watch,
                          char*, size_t) {
  rd_kafka_resp_err_t err =
      rd_kafka_interceptor_add_on_request_sent(rk, kName, OnRequestSent, watch);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  return rd_kafka_interceptor_add_on_response_received(
      rk, kName, OnResponseReceived, watch);
}

// Interceptors are not copied with a configuration (the client copies the
// one it is created from): each copy watches again.
rd_kafka_resp_err_t WatchFrom(rd_kafka_conf_t* conf, void* watch);

rd_kafka_resp_err_t OnConfDup(rd_kafka_conf_t* copy, const rd_kafka_conf_t*,
                              size_t, const char**, void* watch) {
  return WatchFrom(copy, watch);
}

rd_kafka_resp_err_t WatchFrom(rd_kafka_conf_t* conf, void* watch) {
  rd_kafka_resp_err_t err =
      rd_kafka_conf_interceptor_add_on_new(conf, kName, OnNew, watch);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  return rd_kafka_conf_interceptor_add_on_conf_dup(conf, kName, OnConfDup,
                                                   watch);
}

}  // namespace

absl::Status KafkaSessionWatch::Watch(RdKafka::Conf& conf) {
  const rd_kafka_resp_err_t err = WatchFrom(conf.c_ptr_global(), this);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(
        absl::StrCat("kafka session watch: ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::Time KafkaSessionWatch::LastHeard() const {
  absl::MutexLock lock(&mu_);
  return last_heard_;
}

void KafkaSessionWatch::RequestSent(int16_t api_key) {
  if (!KeepsSession(api_key)) return;
  absl::MutexLock lock(&mu_);
  in_flight_[api_key] = absl::Now();
}

void KafkaSessionWatch::ResponseReceived(int16_t api_key, bool answered) {
  if (!KeepsSession(api_key)) return;
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(api_key);
  if (it == in_flight_.end()) return;
  // Any answer, error codes included: an answer refusing the member (its
  // session already over) also makes librdkafka drop its member id, which
  // KafkaConsumer checks beside this.
  if (answered) last_heard_ = std::max(last_heard_, it->second);
  in_flight_.erase(it);
}

}  // namespace strata::eventlog
