#pragma once

// Converts rocksdb::Status to absl::Status at the storage edge.

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace strata {

absl::Status FromRocksDb(const rocksdb::Status& status);

}  // namespace strata
