#include "services/rollup/applied_event.h"


namespace strata::rollup {
namespace {

constexpr size_t kEventSize = 8 + 8 + 8 + 1;
constexpr size_t kCorrectionSize = 8 + 1;
constexpr char kCorrection = 1, kVoided = 2, kHeld = 4, kRejected = 8;

char StateFlags(AppliedEvent::State state) {
  switch (state) {
    case AppliedEvent::State::kHeld:
      return kHeld;
    case AppliedEvent::State::kRejected:
      return kRejected;
    case AppliedEvent::State::kApplied:
      break;
  }
  return 0;
}
constexpr size_t kTimeSize = 8 + 4;

// Most significant byte first, so that bytes sort as the numbers do.
void AppendBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t LoadBigEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void AppendFixed64(std::string& out, uint64_t v) { AppendBigEndian(out, v, 8); }
uint64_t LoadFixed64(const char* p) { return LoadBigEndian(p, 8); }

// Seconds offset so that earlier times sort first as unsigned bytes.
void AppendSortableTime(std::string& out, const EventTime& time) {
  AppendBigEndian(out, static_cast<uint64_t>(time.seconds) ^ (uint64_t{1} << 63), 8);
  AppendBigEndian(out, static_cast<uint32_t>(time.nanos), 4);
}

}  // namespace

std::string EncodeAppliedEvent(const AppliedEvent& event) {
  std::string out;
  AppendFixed64(out, event.fingerprint);
  const char state = StateFlags(event.state);
  if (event.correction) {
    out.push_back(kCorrection | state);
    return out;
  }
  AppendFixed64(out, event.place);
  AppendFixed64(out, static_cast<uint64_t>(event.value));
  out.push_back((event.voided ? kVoided : 0) | state);
  return out;
}

std::optional<AppliedEvent> DecodeAppliedEvent(absl::string_view encoded) {
  if (encoded.size() != kEventSize && encoded.size() != kCorrectionSize) {
    return std::nullopt;
  }
  AppliedEvent event;
  event.fingerprint = LoadFixed64(encoded.data());
  const char flags = encoded.back();
  event.correction = (flags & kCorrection) != 0;
  if ((flags & kHeld) != 0) event.state = AppliedEvent::State::kHeld;
  if ((flags & kRejected) != 0) event.state = AppliedEvent::State::kRejected;
  if (event.correction != (encoded.size() == kCorrectionSize)) {
    return std::nullopt;
  }
  if (event.correction) return event;
  event.place = LoadFixed64(encoded.data() + 8);
  event.value =
      static_cast<int64_t>(LoadFixed64(encoded.data() + 16));
  event.voided = (flags & kVoided) != 0;
  return event;
}

std::string OwnEventKey(absl::string_view cell_prefix, const EventTime& time,
                        absl::string_view event_id) {
  std::string key = OwnEventBound(cell_prefix, time);
  key.append(event_id.data(), event_id.size());
  return key;
}

std::string OwnEventBound(absl::string_view cell_prefix,
                          const EventTime& time) {
  std::string key(cell_prefix);
  AppendSortableTime(key, time);
  return key;
}

bool ParseOwnEventKey(absl::string_view key, size_t prefix_size,
                      EventTime& time, std::string& event_id) {
  if (key.size() <= prefix_size + kTimeSize) return false;
  const char* t = key.data() + prefix_size;
  time.seconds = static_cast<int64_t>(LoadBigEndian(t, 8) ^ (uint64_t{1} << 63));
  time.nanos = static_cast<int32_t>(LoadBigEndian(t + 8, 4));
  event_id = std::string(key.substr(prefix_size + kTimeSize));
  return true;
}

}  // namespace strata::rollup
