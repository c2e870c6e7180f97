#include "services/dispatch/staff_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace gridloop::dispatch {
namespace {

int64_t MinuteOf(absl::Time at) { return absl::ToInt64Minutes(at - absl::UnixEpoch()); }

std::string KeyOf(absl::string_view region_code, int64_t minute) {
  return absl::StrCat(region_code, "@", minute);
}

}  // namespace

CachingStaffDirectory::CachingStaffDirectory(StaffDirectory* inner, absl::Duration ttl,
                                             const Clock* real_clock, size_t max_entries,
                                             Background background)
    : inner_(inner),
      ttl_(ttl),
      real_clock_(real_clock),
      max_entries_(max_entries),
      background_(std::move(background)) {}

absl::StatusOr<v1::GetResponsibleResponse> CachingStaffDirectory::Responsible(
    absl::string_view region_code, absl::Time at) {
  if (ttl_ <= absl::ZeroDuration()) return inner_->Responsible(region_code, at);
  const int64_t minute = MinuteOf(at);
  const std::string key = KeyOf(region_code, minute);
  const absl::Time now = real_clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && now < it->second.expires) {
      ++hits_;
      v1::GetResponsibleResponse answer = it->second.response;
      if (background_ != nullptr) {
        if (now >= it->second.renew_at) RenewLocked(key, region_code, at, now);
        // Duty hours are whole minutes: the next minute's answer is asked for ahead.
        const absl::Time next = absl::UnixEpoch() + absl::Minutes(minute + 1);
        if (next - at <= ttl_) {
          const std::string next_key = KeyOf(region_code, minute + 1);
          if (!entries_.contains(next_key)) RenewLocked(next_key, region_code, next, now);
        }
      }
      return answer;
    }
    ++misses_;
  }
  absl::StatusOr<v1::GetResponsibleResponse> answer = inner_->Responsible(region_code, at);
  if (!answer.ok()) return answer;
  absl::MutexLock lock(&mu_);
  StoreLocked(key, *answer, now);
  return answer;
}

void CachingStaffDirectory::StoreLocked(const std::string& key, v1::GetResponsibleResponse response,
                                        absl::Time asked) {
  if (entries_.size() >= max_entries_ && !entries_.contains(key)) {
    const absl::Time now = real_clock_->Now();
    absl::erase_if(entries_, [now](const auto& e) { return now >= e.second.expires; });
    // Still full of live entries (a burst over very many grids): start afresh rather than
    // grow without bound.
    if (entries_.size() >= max_entries_) entries_.clear();
  }
  entries_.insert_or_assign(key, Entry{std::move(response), asked + ttl_ / 2, asked + ttl_});
}

void CachingStaffDirectory::RenewLocked(const std::string& key, absl::string_view region_code,
                                        absl::Time at, absl::Time now) {
  auto [it, added] = renewing_.try_emplace(key, absl::InfiniteFuture());
  if (!added) {
    if (now < it->second) return;  // under way, or failed lately
    it->second = absl::InfiniteFuture();
  }
  ++renewals_;
  const bool posted = background_([this, key, region = std::string(region_code), at] {
    const absl::Time asked = real_clock_->Now();
    absl::StatusOr<v1::GetResponsibleResponse> answer = inner_->Responsible(region, at);
    absl::MutexLock lock(&mu_);
    if (answer.ok()) {
      renewing_.erase(key);
      StoreLocked(key, *std::move(answer), asked);
    } else {
      renewing_.insert_or_assign(key, real_clock_->Now() + ttl_ / 4);
    }
  });
  if (!posted) {
    --renewals_;
    renewing_.erase(key);
    return;
  }
  // Failed renewals of keys no longer used are forgotten once their wait is over.
  if (renewing_.size() > max_entries_) {
    absl::erase_if(renewing_, [now](const auto& r) { return now >= r.second; });
  }
}

int64_t CachingStaffDirectory::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

int64_t CachingStaffDirectory::misses() const {
  absl::MutexLock lock(&mu_);
  return misses_;
}

int64_t CachingStaffDirectory::renewals() const {
  absl::MutexLock lock(&mu_);
  return renewals_;
}

}  // namespace gridloop::dispatch
