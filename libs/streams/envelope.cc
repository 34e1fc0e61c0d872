#include "libs/streams/envelope.h"

#include <unistd.h>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace strata {

std::string NewRecordId() {
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

v1::EventEnvelope NewEnvelope(const v1::Producer& producer) {
  v1::EventEnvelope envelope;
  envelope.set_event_id(NewRecordId());
  *envelope.mutable_producer() = producer;
  const absl::Time now = absl::Now();
  envelope.mutable_append_time()->set_seconds(absl::ToUnixSeconds(now));
  envelope.mutable_append_time()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(
          now - absl::FromUnixSeconds(absl::ToUnixSeconds(now)))));
  return envelope;
}

v1::Producer ThisProducer(const std::string& service) {
  v1::Producer producer;
  producer.set_service(service);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) producer.set_instance(host);
  return producer;
}

}  // namespace strata
