/* tensorml: the payload checksum of a model archive (see tensorml_archive.h). */

#include "tensorml_archive.h"

#include <caffe2/serialize/inline_container.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace TensorML {

std::string payload_digest(const std::string &path)
{
  caffe2::serialize::PyTorchStreamReader reader(path);
  std::vector<std::string> names = reader.getAllRecords();
  std::sort(names.begin(), names.end());

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("cannot start a SHA-256 digest (OpenSSL)");
  for (const auto &name : names) {
    if (name == "extra/metadata.json" || name == ".data/serialization_id") continue;
    auto record = reader.getRecord(name);
    const uint64_t size = std::get<1>(record);
    unsigned char header[8];
    for (int k = 0; k < 8; ++k) header[k] = (unsigned char) ((size >> (8 * k)) & 0xff);
    const unsigned char nul = 0;
    EVP_DigestUpdate(ctx.get(), name.data(), name.size());
    EVP_DigestUpdate(ctx.get(), &nul, 1);
    EVP_DigestUpdate(ctx.get(), header, 8);
    if (size > 0) EVP_DigestUpdate(ctx.get(), std::get<0>(record).get(), size);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) throw std::runtime_error("SHA-256 digest failed (OpenSSL)");
  static const char *hex = "0123456789abcdef";
  std::string out;
  for (unsigned int k = 0; k < length; ++k) {
    out += hex[digest[k] >> 4];
    out += hex[digest[k] & 0xf];
  }
  return out;
}

}    // namespace TensorML
