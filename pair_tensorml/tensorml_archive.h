/* tensorml: the payload checksum of a model archive (python/tensorml/archive.py defines it).
 *
 * SHA-256 over every record of the TorchScript zip except extra/metadata.json (which holds the
 * digest) and .data/serialization_id (random per save), in sorted name order, each hashed as
 * name + NUL + 8-byte little-endian size + contents.  PyTorch's reader skips the zip CRCs, so
 * without this a file with flipped bytes in its weights loads silently.
 */

#ifndef TENSORML_ARCHIVE_H
#define TENSORML_ARCHIVE_H

#include <string>

namespace TensorML {

// Hex SHA-256 of the payload of the archive at path; throws std::runtime_error if unreadable.
std::string payload_digest(const std::string &path);

}    // namespace TensorML

#endif
