#include "libs/eventlog/kafka_join_watch.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/str_cat.h"

namespace strata::eventlog {
namespace {

// Kafka protocol request numbers.
constexpr int16_t kJoinGroup = 11;
constexpr int16_t kSyncGroup = 14;

constexpr char kName[] = "strata-join-watch";

rd_kafka_resp_err_t OnRequestSent(rd_kafka_t*, int, const char*, int32_t,
                                  int16_t api_key, int16_t, int32_t, size_t,
                                  void* watch) {
  static_cast<KafkaJoinWatch*>(watch)->RequestSent(api_key);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnResponseReceived(rd_kafka_t*, int, const char*, int32_t,
                                       int16_t api_key, int16_t, int32_t,
                                       size_t, int64_t, rd_kafka_resp_err_t,
                                       void* watch) {
  static_cast<KafkaJoinWatch*>(watch)->ResponseReceived(api_key);
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

absl::Status KafkaJoinWatch::Watch(RdKafka::Conf& conf) {
  const rd_kafka_resp_err_t err = WatchFrom(conf.c_ptr_global(), this);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("kafka join watch: ",
                                            rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

bool KafkaJoinWatch::Joining(absl::Duration stale) const {
  const int64_t since = joining_since_ns_.load(std::memory_order_acquire);
  return since != 0 && absl::Now() - absl::FromUnixNanos(since) < stale;
}

void KafkaJoinWatch::RequestSent(int16_t api_key) {
  if (api_key == kJoinGroup) {
    joining_since_ns_.store(absl::ToUnixNanos(absl::Now()),
                            std::memory_order_release);
  }
}

void KafkaJoinWatch::ResponseReceived(int16_t api_key) {
  // Any outcome: a failed sync rejoins, with a JoinGroup sent again.
  if (api_key == kSyncGroup) joining_since_ns_.store(0, std::memory_order_release);
}

}  // namespace strata::eventlog
