#include "services/dispatch/staff_cache.h"

#include "absl/strings/str_cat.h"

namespace gridloop::dispatch {

CachingStaffDirectory::CachingStaffDirectory(StaffDirectory* inner, absl::Duration ttl,
                                             const Clock* real_clock, size_t max_entries)
    : inner_(inner), ttl_(ttl), real_clock_(real_clock), max_entries_(max_entries) {}

absl::StatusOr<v1::GetResponsibleResponse> CachingStaffDirectory::Responsible(
    absl::string_view region_code, absl::Time at) {
  if (ttl_ <= absl::ZeroDuration()) return inner_->Responsible(region_code, at);
  const std::string key =
      absl::StrCat(region_code, "@", absl::ToInt64Minutes(at - absl::UnixEpoch()));
  const absl::Time now = real_clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && now < it->second.expires) {
      ++hits_;
      return it->second.response;
    }
    ++misses_;
  }
  absl::StatusOr<v1::GetResponsibleResponse> answer = inner_->Responsible(region_code, at);
  if (!answer.ok()) return answer;
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= max_entries_) {
    absl::erase_if(entries_, [now](const auto& e) { return now >= e.second.expires; });
    // Still full of live entries (a burst over very many grids): start afresh rather than
    // grow without bound.
    if (entries_.size() >= max_entries_) entries_.clear();
  }
  entries_.insert_or_assign(key, Entry{*answer, now + ttl_});
  return answer;
}

int64_t CachingStaffDirectory::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

int64_t CachingStaffDirectory::misses() const {
  absl::MutexLock lock(&mu_);
  return misses_;
}

}  // namespace gridloop::dispatch
