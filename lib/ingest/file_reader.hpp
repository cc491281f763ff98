#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "ingest/json_documents.hpp"

namespace portscand {

// Read buffers, recycled: a fresh multi-megabyte allocation per chunk costs page faults and
// zeroing on every chunk. Bytes are left uninitialized. All buffers have one capacity, so
// any free one serves any request and the pool never holds more than were in flight at
// once. Any thread.
class buffer_pool {
 public:
  explicit buffer_pool(std::size_t capacity) : capacity_(capacity) {}
  struct buffer {
    std::unique_ptr<char[]> bytes;
    char* data() noexcept { return bytes.get(); }
  };
  using handle = std::shared_ptr<buffer>;

  std::size_t capacity() const noexcept { return capacity_; }

  // A buffer of capacity() bytes; it returns to the pool when the last handle goes.
  handle acquire();

 private:
  const std::size_t capacity_;
  std::mutex mu_;
  std::vector<std::unique_ptr<buffer>> free_;
};

// Readable bytes after every chunk, so that JSON formats parse its units in place: the
// decoder's unit_padding (a static_assert in runtime/input_sink.cpp keeps them equal).
inline constexpr std::size_t chunk_padding = 64;

// A piece of a file that holds whole units, followed by chunk_padding readable bytes.
struct file_chunk {
  buffer_pool::handle data;
  std::size_t size = 0;
  // The file is read as JSON documents (see json_documents.hpp): the units are found with
  // json_documents::split, not by line.
  bool documents = false;
  // The line number (from 1) of the chunk's first byte, when the reader counts lines.
  std::size_t first_line = 0;

  std::string_view text() const noexcept { return {data->data(), size}; }
};

// Calls emit(unit) for each unit of the chunk in order: its lines (without the line break;
// blank ones too), or its JSON documents and the lines between them.
template <typename Emit>
void for_each_unit(const file_chunk& c, Emit&& emit) {
  const std::string_view text = c.text();
  if (c.documents) {
    json_documents::split(text, true, emit);
    return;
  }
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const char* nl =
        static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* line_end = nl != nullptr ? nl : end;
    emit(std::string_view(p, static_cast<std::size_t>(line_end - p)));
    p = line_end + 1;
  }
}

// How every file-reading path of portscand (the daemon's `file` input, `replay`, `parse`)
// cuts a file into units: lines, or, when the file's first non-blank line opens a JSON
// document that continues on later lines (an NSG flow-log blob, `jq .` output), JSON
// documents and the lines between them (json_documents.hpp). It hands out chunks of whole
// units, each in a buffer of its own, so that they can be parsed on any thread.
//
// A unit longer than max_unit bytes is cut: a unit of its first max_unit + 1 bytes goes out
// (the decoder rejects it as too_large, so it is counted and logged like any rejection) and
// the rest, up to the next line break, is skipped. Memory is bounded by the pool's buffers.
//
// Reads as the caller asks: read_some() is one read(2); finish() says the file has ended. A
// file followed as it grows calls read_some() again when it has grown, and finish() only
// when it was rotated. One thread.
class file_reader {
 public:
  using emit_fn = std::function<void(file_chunk&&)>;

  // read_bytes per read(2); the pool's buffers must hold buffer_bytes(read_bytes, max_unit).
  // count_lines: chunks carry first_line.
  file_reader(buffer_pool& pool, std::size_t read_bytes, std::size_t max_unit,
              bool count_lines = false);
  static constexpr std::size_t buffer_bytes(std::size_t read_bytes, std::size_t max_unit) {
    // The carried tail (at most max_unit bytes: longer units are cut) and one read; or a
    // cut unit and its line break; and the padding.
    return (read_bytes > 1 ? read_bytes : 1) + max_unit + 1 + chunk_padding;
  }

  // One read(2) of fd (EINTR retried); calls emit for each chunk of whole units it
  // completes. Returns the bytes read, 0 at the end of what the file holds now, -1 on a read
  // error (errno says which; what was read before is kept).
  ssize_t read_some(int fd, const emit_fn& emit);

  // The file has ended: emits what is left (a last line without a line break, an
  // unterminated document, which the decoder rejects), then forgets the file (reset()).
  void finish(const emit_fn& emit);

  // Forgets the file read so far: the next read_some() reads a new file from its start
  // (a reopened or truncated file; its first non-blank line decides its mode again).
  void reset();

  // Units cut at max_unit since construction.
  std::size_t cut_units() const noexcept { return cut_units_; }

 private:
  // Cuts buf[0, filled) (the carried tail, then what was read) into chunks; what is left
  // (an incomplete unit) goes to carry_ unless at_end.
  void process(buffer_pool::handle buf, std::size_t filled, bool at_end, const emit_fn& emit);
  // Emits buf[from, from + size) as a chunk of buf itself (moved to its front).
  void emit_in_place(buffer_pool::handle buf, std::size_t from, std::size_t size,
                     const emit_fn& emit);
  // Emits a copy of data[from, from + size) as a chunk.
  void emit_copy(const char* data, std::size_t size, const emit_fn& emit);
  // Emits the first max_unit + 1 bytes at `from` as one unit.
  void emit_cut(const char* from, const emit_fn& emit);
  // Counts the line breaks of [from, to) when counting lines.
  void pass(const char* from, const char* to) noexcept;

  enum class mode : unsigned char { undecided, lines, documents };

  buffer_pool& pool_;
  const std::size_t read_bytes_;
  const std::size_t max_unit_;
  const bool count_lines_;
  mode mode_ = mode::undecided;
  std::vector<char> carry_;  // an incomplete unit, at most max_unit bytes
  bool skipping_ = false;    // inside the rest of a cut unit, looking for a line break
  std::size_t line_ = 1;     // of the next byte not yet passed, when counting lines
  std::size_t cut_units_ = 0;
};

}  // namespace portscand
