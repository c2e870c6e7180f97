#ifndef GRIDLOOP_COMMON_PII_KEYRING_H_
#define GRIDLOOP_COMMON_PII_KEYRING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gridloop::pii {

// Encrypts personal data for storage and computes blind indexes, so that a record can be
// found by an identity card or phone number without that number being stored in clear.
//
// An envelope is "v1.<key_id>.<payload>", the payload being unpadded base64url of
// nonce (12 bytes) | ciphertext | tag (16 bytes): ASCII, so it fits a Redis hash field,
// and it shows which key wrote it. AES-256-GCM authenticates the ciphertext together with
// the "v1.<key_id>." prefix and the caller's associated data, which names the record and
// field ("resident/<id>/id_number"): a ciphertext copied to another record or field, or
// altered in any way, fails to decrypt.
//
// Rotation: add a key, make it active, deploy. Every envelope names its key, so older
// ones still decrypt; a re-encryption pass rewrites those NeedsRotation reports, after
// which the old key can be removed. Random 96-bit nonces are safe for about 2^32
// encryptions under one key, and rotation keeps each key well below that.
//
// Immutable once parsed, so thread-safe. Copies are cheap and share the key material,
// which is wiped from memory when the last copy is destroyed.
class Keyring {
 public:
  // `keys`: comma-separated "<key_id>:<base64 of 32 bytes>", key ids being 1-16 of
  // [A-Za-z0-9_-]. `active_key_id`: the key of new envelopes, one of `keys`.
  // `index_key`: base64 of 32 or more bytes, distinct from every encryption key, used for
  // BlindIndex only. InvalidArgument naming the setting (and the key id) that is wrong;
  // a message never contains key material.
  static absl::StatusOr<Keyring> Parse(absl::string_view keys, absl::string_view active_key_id,
                                       absl::string_view index_key);

  // A new random 32-byte key, in the base64 form Parse reads.
  static std::string GenerateKeyText();

  absl::string_view active_key_id() const;

  // An envelope of `plaintext` under the active key with a fresh random nonce.
  // InvalidArgument if an input is over 2 GiB; Internal if OpenSSL fails.
  absl::StatusOr<std::string> Encrypt(absl::string_view plaintext,
                                      absl::string_view associated_data) const;

  // The plaintext of an envelope Encrypt made with the same `associated_data`, under any
  // configured key. FailedPrecondition if its key is not configured or its format version
  // is not known here (written by a newer release); DataLoss if it is malformed, altered
  // or belongs to other associated data, which cannot be told apart; Internal if OpenSSL
  // fails.
  absl::StatusOr<std::string> Decrypt(absl::string_view envelope,
                                      absl::string_view associated_data) const;

  // Whether `envelope` should be re-encrypted: it was written under another key than the
  // active one, or is not a well-formed envelope at all (Decrypt then says what is wrong).
  bool NeedsRotation(absl::string_view envelope) const;

  // 64 lower-case hex characters, HMAC-SHA256 over `purpose` '\0' `normalized_value`
  // under the index key: equal inputs give equal results, so a lookup key can hold this
  // instead of the value. `purpose` ("id_number", "phone") keeps the indexes of different
  // fields apart and must not contain '\0'. Pass the normalised value (id_number.h), or
  // equal numbers written differently will not match.
  //
  // The index key does not rotate with the encryption keys: a new index key changes every
  // digest, so every index entry would have to be recomputed from decrypted records before
  // lookups work again. Replacing it is a migration, not routine rotation.
  std::string BlindIndex(absl::string_view purpose, absl::string_view normalized_value) const;

 private:
  struct Material;

  explicit Keyring(std::shared_ptr<const Material> material);

  std::shared_ptr<const Material> material_;
};

}  // namespace gridloop::pii

#endif  // GRIDLOOP_COMMON_PII_KEYRING_H_
