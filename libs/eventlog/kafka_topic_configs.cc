#include "libs/eventlog/kafka_topic_configs.h"

#include <librdkafka/rdkafka.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace strata::eventlog {
namespace {

absl::Status FromError(rd_kafka_resp_err_t error, const std::string& context,
                       const char* detail) {
  const std::string message = absl::StrCat(
      context, ": ", detail != nullptr && detail[0] != '\0'
                         ? detail
                         : rd_kafka_err2str(error));
  switch (error) {
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
      return absl::UnimplementedError(message);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return absl::PermissionDeniedError(message);
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      return absl::NotFoundError(message);
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    default:
      return absl::UnavailableError(message);
  }
}

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_ConfigResource_t* r) const {
    rd_kafka_ConfigResource_destroy(r);
  }
  void operator()(rd_kafka_AdminOptions_t* o) const {
    rd_kafka_AdminOptions_destroy(o);
  }
};
template <typename T>
using KafkaPtr = std::unique_ptr<T, KafkaDeleter>;

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> DescribeTopicConfigs(
    const std::string& brokers, const std::string& topic,
    absl::Duration timeout) {
  const std::string context = absl::StrCat("describing topic '", topic, "'");
  char error[512] = "";
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error,
                        sizeof(error)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", error));
  }
  KafkaPtr<rd_kafka_t> client(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error)));
  if (client == nullptr) {  // rd_kafka_new takes conf only on success.
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat(context, ": ", error));
  }
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  KafkaPtr<rd_kafka_queue_t> queue(rd_kafka_queue_new(client.get()));
  KafkaPtr<rd_kafka_AdminOptions_t> options(rd_kafka_AdminOptions_new(
      client.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, error,
                                            sizeof(error));
  KafkaPtr<rd_kafka_ConfigResource_t> resource(
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  rd_kafka_DescribeConfigs(client.get(), resources, 1, options.get(),
                           queue.get());
  // The result comes by the request timeout at the latest; a little more
  // lets it arrive.
  KafkaPtr<rd_kafka_event_t> event(
      rd_kafka_queue_poll(queue.get(), timeout_ms + 1000));
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat(context, ": no answer in ", absl::FormatDuration(timeout)));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromError(rd_kafka_event_error(event.get()), context,
                     rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_DescribeConfigs_result_t* result =
      rd_kafka_event_DescribeConfigs_result(event.get());
  size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      rd_kafka_DescribeConfigs_result_resources(result, &count);
  if (count != 1) {
    return absl::InternalError(
        absl::StrCat(context, ": ", count, " resources in the answer"));
  }
  if (rd_kafka_ConfigResource_error(described[0]) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromError(rd_kafka_ConfigResource_error(described[0]), context,
                     rd_kafka_ConfigResource_error_string(described[0]));
  }
  size_t entry_count = 0;
  const rd_kafka_ConfigEntry_t** entries =
      rd_kafka_ConfigResource_configs(described[0], &entry_count);
  std::map<std::string, std::string> configs;
  for (size_t i = 0; i < entry_count; ++i) {
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    configs[rd_kafka_ConfigEntry_name(entries[i])] =
        value == nullptr ? "" : value;
  }
  return configs;
}

}  // namespace strata::eventlog
