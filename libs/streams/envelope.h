#pragma once

// Builds the envelope every log record travels in.
//
//   v1::EventEnvelope envelope = NewEnvelope(producer);
//   *envelope.mutable_kpi_events() = std::move(batch);

#include <string>

#include "strata/v1/events.pb.h"

namespace strata {

// A random 128-bit id in hex, for records whose id nobody else chooses.
std::string NewRecordId();

// An envelope stamped with a fresh id, `producer` and the current time.
v1::EventEnvelope NewEnvelope(const v1::Producer& producer);

// The identity of this process: service name and host.
v1::Producer ThisProducer(const std::string& service);

}  // namespace strata
