#pragma once

// A read-through cache of per-cell state that remembers which entries
// changed since the last commit, in the order they first changed.
//
//   DirtyCache<CellId, RollupCell> cells;
//   ASSIGN_OR_RETURN(RollupCell* cell, cells.Mutable(id, [&] {
//     return store.GetCell(key);  // StatusOr<optional<RollupCell>>
//   }));
//   for (const CellId& id : cells.dirty()) Write(id, cells.at(id));
//   cells.ClearDirty();

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace strata::rollup {

template <typename Key, typename State>
class DirtyCache {
 public:
  // The entry for `key`, loaded with `load` on first use (a default State
  // when the store has none), and marked dirty.
  template <typename Load>
  absl::StatusOr<State*> Mutable(const Key& key, Load load) {
    auto entry = LoadEntry(key, load);
    if (!entry.ok()) return entry.status();
    if (!(*entry)->dirty) {
      (*entry)->dirty = true;
      dirty_.push_back(key);
    }
    return &(*entry)->state;
  }

  // The entry for `key`, loaded like Mutable's but not marked dirty; a
  // default State when the store has none. Valid until the next load.
  template <typename Load>
  absl::StatusOr<const State*> Get(const Key& key, Load load) {
    auto entry = LoadEntry(key, load);
    if (!entry.ok()) return entry.status();
    return &(*entry)->state;
  }

  // The cached entry, or nullptr.
  const State* Find(const Key& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second.state;
  }

  const std::vector<Key>& dirty() const { return dirty_; }
  const State& at(const Key& key) const { return entries_.at(key).state; }

  size_t size() const { return entries_.size(); }

  // Forgets every entry but those of `keep`.
  void RetainOnly(const std::vector<Key>& keep) {
    absl::flat_hash_map<Key, Entry> kept;
    kept.reserve(keep.size());
    for (const Key& key : keep) {
      auto it = entries_.find(key);
      if (it != entries_.end()) kept.emplace(key, it->second);
    }
    entries_.swap(kept);
  }

  // Forgets every entry, dirty or not.
  void Clear() {
    entries_.clear();
    dirty_.clear();
  }

  void ClearDirty() {
    for (const Key& key : dirty_) entries_[key].dirty = false;
    dirty_.clear();
  }

 private:
  struct Entry {
    State state;
    bool dirty = false;
  };

  // The entry for `key`, loaded on first use.
  template <typename Loader>
  absl::StatusOr<Entry*> LoadEntry(const Key& key, Loader load) {
    auto [it, inserted] = entries_.try_emplace(key);
    if (inserted) {
      auto stored = load();
      if (!stored.ok()) {
        entries_.erase(it);
        return stored.status();
      }
      if (stored->has_value()) it->second.state = **stored;
    }
    return &it->second;
  }
  absl::flat_hash_map<Key, Entry> entries_;
  std::vector<Key> dirty_;
};

}  // namespace strata::rollup
