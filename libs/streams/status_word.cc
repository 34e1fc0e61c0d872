#include "libs/streams/status_word.h"

namespace strata {

std::string StatusWord(v1::KpiStatus status) {
  switch (status) {
    case v1::KPI_STATUS_GREEN:
      return "green";
    case v1::KPI_STATUS_AMBER:
      return "amber";
    case v1::KPI_STATUS_RED:
      return "red";
    case v1::KPI_STATUS_NO_DATA:
      return "no data";
    default:
      return "";
  }
}

}  // namespace strata
