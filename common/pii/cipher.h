#ifndef GRIDLOOP_COMMON_PII_CIPHER_H_
#define GRIDLOOP_COMMON_PII_CIPHER_H_

#include <array>
#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// The primitives under Keyring (keyring.h), which owns keys and the envelope format; use
// that instead. Thread-safe.
namespace gridloop::pii::internal {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kNonceBytes = 12;
inline constexpr size_t kTagBytes = 16;

using Key = std::array<unsigned char, kKeyBytes>;

// AES-256-GCM under `key` with a fresh random nonce, authenticating `aad` as well.
// Returns nonce | ciphertext | tag. InvalidArgument if an input is beyond OpenSSL's int
// lengths (2 GiB); Internal if the random generator or OpenSSL fails.
absl::StatusOr<std::string> Seal(const Key& key, absl::string_view plaintext,
                                 absl::string_view aad);

// The plaintext of what Seal returned for the same `key` and `aad`. DataLoss if `sealed`
// is truncated, altered or was made for other `aad` (GCM cannot tell these apart);
// InvalidArgument if an input is over 2 GiB; Internal if OpenSSL fails.
absl::StatusOr<std::string> Open(const Key& key, absl::string_view sealed, absl::string_view aad);

// The 32-byte HMAC-SHA256 of `data` under `key`. Aborts if OpenSSL fails, which only
// happens when it cannot allocate.
std::string HmacSha256(absl::string_view key, absl::string_view data);

// `size` bytes from OpenSSL's CSPRNG. Aborts if it fails: no caller can do without.
std::string RandomBytes(size_t size);

}  // namespace gridloop::pii::internal

#endif  // GRIDLOOP_COMMON_PII_CIPHER_H_
