#include "common/pii/cipher.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"

namespace gridloop::pii::internal {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// Fetched once: with EVP_aes_256_gcm() and EVP_sha256(), OpenSSL 3 looks the algorithm up
// in its provider tables, under a lock, on every use.
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

const EVP_MD* Sha256() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool FitsInt(size_t n) { return n <= static_cast<size_t>(std::numeric_limits<int>::max()); }

// Internal, with OpenSSL's reason; clears its error queue so the reason is not reported
// again by an unrelated later call on this thread.
absl::Status OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return absl::InternalError(
      absl::StrCat(what, " failed: ", reason == nullptr ? "no reason given" : reason));
}

}  // namespace

absl::StatusOr<std::string> Seal(const Key& key, absl::string_view plaintext,
                                 absl::string_view aad) {
  if (!FitsInt(plaintext.size() + kNonceBytes + kTagBytes) || !FitsInt(aad.size())) {
    return absl::InvalidArgumentError("plaintext or associated data over 2 GiB");
  }
  if (Aes256Gcm() == nullptr) return OpenSslError("loading AES-256-GCM");
  std::string sealed(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(sealed.data());
  unsigned char* ciphertext = nonce + kNonceBytes;
  unsigned char* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, kNonceBytes) != 1) return OpenSslError("generating a nonce");
  const CipherCtx ctx(EVP_CIPHER_CTX_new());
  int aad_len = 0;
  int written = 0;
  int final_len = 0;
  // Empty updates are skipped: a null pointer with zero length is not valid everywhere.
  if (ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), key.data(), nonce, nullptr) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &aad_len, Bytes(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ciphertext, &written, Bytes(plaintext),
                                               static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + written, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
    return OpenSslError("AES-256-GCM encryption");
  }
  return sealed;
}

absl::StatusOr<std::string> Open(const Key& key, absl::string_view sealed, absl::string_view aad) {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("ciphertext is truncated");
  }
  if (!FitsInt(sealed.size()) || !FitsInt(aad.size())) {
    return absl::InvalidArgumentError("ciphertext or associated data over 2 GiB");
  }
  if (Aes256Gcm() == nullptr) return OpenSslError("loading AES-256-GCM");
  const absl::string_view nonce = sealed.substr(0, kNonceBytes);
  const absl::string_view ciphertext =
      sealed.substr(kNonceBytes, sealed.size() - kNonceBytes - kTagBytes);
  // The tag is passed through a non-const pointer, though OpenSSL only reads it.
  std::array<unsigned char, kTagBytes> tag{};
  sealed.substr(sealed.size() - kTagBytes).copy(reinterpret_cast<char*>(tag.data()), kTagBytes);

  std::string plaintext(ciphertext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  const CipherCtx ctx(EVP_CIPHER_CTX_new());
  int aad_len = 0;
  int written = 0;
  int final_len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), key.data(), Bytes(nonce), nullptr) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &aad_len, Bytes(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      (!ciphertext.empty() && EVP_DecryptUpdate(ctx.get(), out, &written, Bytes(ciphertext),
                                                static_cast<int>(ciphertext.size())) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1) {
    return OpenSslError("AES-256-GCM decryption");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + written, &final_len) != 1) {
    // Unauthenticated plaintext must not outlive this call.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    ERR_clear_error();
    return absl::DataLossError(
        "ciphertext does not authenticate: altered, or made for other associated data");
  }
  return plaintext;
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  std::string digest(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (!FitsInt(key.size()) || Sha256() == nullptr ||
      HMAC(Sha256(), key.data(), static_cast<int>(key.size()), Bytes(data), data.size(),
           reinterpret_cast<unsigned char*>(digest.data()), &len) == nullptr) {
    std::abort();
  }
  digest.resize(len);
  return digest;
}

std::string RandomBytes(size_t size) {
  std::string bytes(size, '\0');
  if (!FitsInt(size) ||
      RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(size)) != 1) {
    std::abort();
  }
  return bytes;
}

}  // namespace gridloop::pii::internal
