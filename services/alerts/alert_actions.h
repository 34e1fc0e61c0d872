#pragma once

// Validates a manager's acknowledge or resolve against the alert's current
// state (a silence, against the one stored), appends it to the log and
// returns the alert (silence) once the engine has applied it.

#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/alert_store.h"
#include "strata/v1/alert_service.pb.h"

namespace strata::alerts {

class AlertActions {
 public:
  AlertActions(eventlog::EventLog& log, AlertStore& store, AlertEngine& engine,
               v1::Producer producer)
      : log_(log),
        store_(store),
        engine_(engine),
        producer_(std::move(producer)) {}

  absl::StatusOr<v1::Alert> Acknowledge(
      const v1::AcknowledgeAlertRequest& request);
  absl::StatusOr<v1::Alert> Resolve(const v1::ResolveAlertRequest& request);
  // The unit, when given, is checked to exist by the caller.
  absl::StatusOr<v1::Silence> CreateSilence(
      const v1::CreateSilenceRequest& request);
  absl::StatusOr<v1::Silence> ExpireSilence(
      const v1::ExpireSilenceRequest& request);
  // By id; those ended by now only with `include_expired`.
  absl::StatusOr<std::vector<v1::Silence>> ListSilences(bool include_expired);

 private:
  absl::StatusOr<v1::Alert> Load(const std::string& alert_id);
  absl::StatusOr<v1::Silence> AppendSilence(const v1::Silence& silence,
                                            const std::string& principal);
  absl::StatusOr<v1::Alert> Append(const v1::Alert& alert,
                                   const std::string& principal,
                                   v1::AlertAction action);

  eventlog::EventLog& log_;
  AlertStore& store_;
  AlertEngine& engine_;
  const v1::Producer producer_;
};

}  // namespace strata::alerts
