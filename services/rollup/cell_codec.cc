#include "services/rollup/cell_codec.h"

#include "libs/storage/state_db.h"

namespace strata::rollup {
namespace {

constexpr size_t kCellFields = 9;

}  // namespace

int64_t Int128Low(absl::int128 v) {
  return static_cast<int64_t>(absl::Int128Low64(v));
}

int64_t Int128High(absl::int128 v) { return absl::Int128High64(v); }

absl::int128 DecodeInt128At(absl::string_view encoded, size_t index) {
  return absl::MakeInt128(
      DecodeFixed64At(encoded, index + 1),
      static_cast<uint64_t>(DecodeFixed64At(encoded, index)));
}

std::string EncodeCell(const RollupCell& cell) {
  return EncodeFixed64s(
      {Int128Low(cell.value), Int128High(cell.value), Int128Low(cell.weight),
       Int128High(cell.weight), cell.contributors, cell.event_count,
       cell.last_event_time.seconds, cell.last_event_time.nanos,
       cell.version});
}

std::optional<RollupCell> DecodeCell(absl::string_view encoded) {
  if (encoded.size() != kCellFields * 8) return std::nullopt;
  RollupCell cell;
  cell.value = DecodeInt128At(encoded, 0);
  cell.weight = DecodeInt128At(encoded, 2);
  cell.contributors = DecodeFixed64At(encoded, 4);
  cell.event_count = DecodeFixed64At(encoded, 5);
  cell.last_event_time = {DecodeFixed64At(encoded, 6),
                          static_cast<int32_t>(DecodeFixed64At(encoded, 7))};
  cell.version = DecodeFixed64At(encoded, 8);
  return cell;
}

}  // namespace strata::rollup
