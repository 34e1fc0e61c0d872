#include "services/alerts/alertmanager_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, alertmanager_url, "",
          "Push alerts to this Prometheus Alertmanager (e.g. "
          "http://alertmanager:9093); empty: none.");
ABSL_FLAG(absl::Duration, alertmanager_resend_interval, absl::Minutes(1),
          "Send open alerts to the Alertmanager again this often; it "
          "resolves them by itself after four intervals without news.");

namespace strata::alerts {

AlertmanagerOptions AlertmanagerOptionsFromFlags() {
  AlertmanagerOptions options;
  options.url = absl::GetFlag(FLAGS_alertmanager_url);
  options.resend_interval = absl::GetFlag(FLAGS_alertmanager_resend_interval);
  return options;
}

}  // namespace strata::alerts
