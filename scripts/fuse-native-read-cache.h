// s3mount: reads served on the libfuse thread, from block files of the disk cache that
// JavaScript has checked, so that a read of bytes the mount already holds does not wait for
// the event loop (a trip there and back, a copy and a semaphore per 128 KiB request).
// scripts/patch-fuse-native.mjs copies this file next to fuse-native.c, includes it there and
// calls nr_before for every operation before it goes to JavaScript.
//
// The rules, all applied here:
// - JavaScript registers blocks per version of an object (a number it gives to bucket, key
//   and ETag): block index -> an open descriptor of the block's file, where the block's bytes
//   start in it, and how many there are. It registers only blocks whose file it read and
//   checked (CRC-32 over identity and payload) through that descriptor, stored raw.
// - JavaScript attaches an open file handle to the version it returned bytes of (its first
//   read always goes there). A read on an attached handle that lies wholly within registered
//   blocks of its version is answered here with pread, whichever handle's reads registered
//   them (fio's four readers of one file, a reader opened after another closed); anything
//   else (a missing block, bytes not in the page cache) goes to JavaScript as before.
// - The descriptors belong to this file once registered: a drop (the block leaving the disk
//   cache, or room needed for others) takes the block out at once and closes its descriptor
//   when no read is using it any more, so a descriptor number is never read after it was
//   closed. A handle's release detaches it before its number can be given again.
//
// One table per process (s3mount serves one mount per process); off until configured.

#include <unistd.h>
#include <errno.h>
#include "s3mount-names.h"
#include <sys/uio.h>
#include <sys/syscall.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

// preadv2 with RWF_NOWAIT (glibc declares preadv2 only under _GNU_SOURCE, which the binding
// does not define before its first include): -1 with EAGAIN when the bytes are not all in the
// page cache.
static ssize_t nr_pread_cached (int fd, void *buf, size_t len, uint64_t offset) {
  struct iovec iov = { .iov_base = buf, .iov_len = len };
  return (ssize_t) syscall(SYS_preadv2, fd, &iov, 1, (unsigned long) offset, (unsigned long) (offset >> 32), RWF_NOWAIT);
}

#define NR_BUCKETS 4096
// Blocks one read may span (a 128 KiB request over blocks of 1 MiB spans two at most).
#define NR_MAX_SPAN 8

typedef struct nr_block {
  struct nr_block *chain;            // next in its hash bucket
  struct nr_block *prev, *next;      // the version's blocks
  uint32_t version;
  uint64_t index;
  int fd;
  uint64_t file_offset;              // where the block's bytes start in its file
  uint32_t length;                   // bytes of the block (the last one of an object is short)
  uint32_t refs;                     // reads using the descriptor now
  int dropped;                       // out of the table: close when refs reaches 0
} nr_block_t;

// One version of an object (JavaScript numbers them: bucket, key and ETag), and its blocks.
typedef struct nr_version {
  struct nr_version *chain;
  uint32_t version;
  uint32_t block_size;
  uint64_t size;                     // the object's size: reads stop there
  nr_block_t *blocks;
} nr_version_t;

// An open handle that returned bytes of a version: its reads may be answered from that
// version's blocks, whichever handle's reads registered them.
typedef struct nr_handle {
  struct nr_handle *chain;
  uint32_t fh;
  uint32_t version;
} nr_handle_t;

static struct {
  pthread_mutex_t lock;
  uint32_t max_blocks;               // 0: off
  uint32_t blocks;
  nr_block_t *buckets[NR_BUCKETS];
  nr_version_t *versions[NR_BUCKETS];
  nr_handle_t *handles[NR_BUCKETS];
  uint64_t served, served_bytes, passed, fallbacks, registered, refused, dropped;
} nr = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint32_t nr_bucket (uint32_t version, uint64_t index) {
  uint64_t h = ((uint64_t) version * 0x9E3779B97F4A7C15ULL) ^ (index * 0xC2B2AE3D27D4EB4FULL);
  return (uint32_t) ((h ^ (h >> 29)) % NR_BUCKETS);
}

static nr_handle_t *nr_handle_locked (uint32_t fh) {
  nr_handle_t *h = nr.handles[fh % NR_BUCKETS];
  while (h != NULL && h->fh != fh) h = h->chain;
  return h;
}

static nr_version_t *nr_version_locked (uint32_t version) {
  nr_version_t *v = nr.versions[version % NR_BUCKETS];
  while (v != NULL && v->version != version) v = v->chain;
  return v;
}

static nr_block_t *nr_block_locked (uint32_t version, uint64_t index) {
  nr_block_t *b = nr.buckets[nr_bucket(version, index)];
  while (b != NULL && (b->version != version || b->index != index)) b = b->chain;
  return b;
}

// Takes a version with no block left out of the table.
static void nr_forget_version_locked (nr_version_t *v) {
  nr_version_t **at = &nr.versions[v->version % NR_BUCKETS];
  while (*at != v) at = &(*at)->chain;
  *at = v->chain;
  free(v);
}

// Takes a block out of the table and its version's list (the version too once it has none);
// its descriptor closes now or when the last read using it ends.
static void nr_unlink_block_locked (nr_version_t *v, nr_block_t *b) {
  nr_block_t **at = &nr.buckets[nr_bucket(b->version, b->index)];
  while (*at != b) at = &(*at)->chain;
  *at = b->chain;
  if (b->prev != NULL) b->prev->next = b->next;
  else v->blocks = b->next;
  if (b->next != NULL) b->next->prev = b->prev;
  nr.blocks--;
  nr.dropped++;
  b->dropped = 1;
  if (b->refs == 0) {
    close(b->fd);
    free(b);
  }
  if (v->blocks == NULL) nr_forget_version_locked(v);
}

static void nr_detach_locked (uint32_t fh) {
  nr_handle_t **at = &nr.handles[fh % NR_BUCKETS];
  while (*at != NULL && (*at)->fh != fh) at = &(*at)->chain;
  nr_handle_t *h = *at;
  if (h == NULL) return;
  *at = h->chain;
  free(h);
}

static void nr_clear_locked (void) {
  for (uint32_t i = 0; i < NR_BUCKETS; i++) {
    // Unlinking a version's last block takes the version out too.
    while (nr.versions[i] != NULL) {
      nr_version_t *v = nr.versions[i];
      if (v->blocks == NULL) nr_forget_version_locked(v);
      else nr_unlink_block_locked(v, v->blocks);
    }
    while (nr.handles[i] != NULL) nr_detach_locked(nr.handles[i]->fh);
  }
}

// Answers a read from registered blocks: 1 when answered (l->res holds the byte count).
static int nr_serve (fuse_thread_locals_t *l) {
  if (l->info == NULL || l->len == 0 || l->offset < 0) return 0;
  uint32_t fh = (uint32_t) l->info->fh;
  uint64_t start = (uint64_t) l->offset;
  nr_block_t *span[NR_MAX_SPAN];
  uint32_t count = 0;
  uint32_t block_size;
  uint64_t end;

  pthread_mutex_lock(&nr.lock);
  nr_handle_t *h = nr.max_blocks == 0 ? NULL : nr_handle_locked(fh);
  nr_version_t *v = h == NULL ? NULL : nr_version_locked(h->version);
  if (v == NULL || start >= v->size) {
    // Not ours, nothing registered for its version, or at the end of the object: JavaScript
    // knows best.
    if (h != NULL) nr.passed++;
    pthread_mutex_unlock(&nr.lock);
    return 0;
  }
  block_size = v->block_size;
  end = start + l->len < v->size ? start + l->len : v->size;
  uint64_t first = start / block_size, last = (end - 1) / block_size;
  if (last - first >= NR_MAX_SPAN) {
    nr.passed++;
    pthread_mutex_unlock(&nr.lock);
    return 0;
  }
  for (uint64_t index = first; index <= last; index++) {
    nr_block_t *b = nr_block_locked(v->version, index);
    // The block must hold every byte of the read that falls in its place.
    uint64_t place_end = (index + 1) * block_size;
    uint64_t needed_end = end < place_end ? end : place_end;
    if (b == NULL || index * block_size + b->length < needed_end) {
      for (uint32_t i = 0; i < count; i++) span[i]->refs--;
      nr.passed++;
      pthread_mutex_unlock(&nr.lock);
      return 0;
    }
    b->refs++;
    span[count++] = b;
  }
  pthread_mutex_unlock(&nr.lock);

  char *buf = (char *) l->buf;
  uint64_t at = start;
  int whole = 1;
  for (uint32_t i = 0; i < count && whole; i++) {
    nr_block_t *b = span[i];
    uint64_t block_start = b->index * block_size;
    uint64_t block_end = block_start + b->length;
    uint64_t to = end < block_end ? end : block_end;
    while (at < to) {
      // Only bytes already in the page cache: a read that would wait for the disk goes to
      // JavaScript, which reads whole blocks (measured: a pread here for the missing bytes was
      // no faster for random readers, and slower for a streaming one).
      ssize_t got = nr_pread_cached(b->fd, buf + (at - start), (size_t) (to - at), b->file_offset + (at - block_start));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        whole = 0;
        break;
      }
      at += (uint64_t) got;
    }
  }
  if (at != end) whole = 0;

  pthread_mutex_lock(&nr.lock);
  for (uint32_t i = 0; i < count; i++) {
    nr_block_t *b = span[i];
    b->refs--;
    if (b->dropped && b->refs == 0) {
      close(b->fd);
      free(b);
    }
  }
  if (whole) {
    nr.served++;
    nr.served_bytes += end - start;
  } else {
    nr.fallbacks++;
  }
  pthread_mutex_unlock(&nr.lock);
  if (!whole) return 0; // JavaScript answers, and overwrites what was read into buf
  l->res = (int32_t) (end - start);
  return 1;
}

// Called by every operation before it goes to JavaScript: 1 when answered here.
static int nr_before (fuse_thread_locals_t *l) {
  if (names_refused(l)) {
    l->res = -EILSEQ;
    return 1;
  }
  if (l->op != op_read) return 0;
  return nr_serve(l);
}

// JavaScript's side.

// (maxBlocks): on with room for that many registered blocks (descriptors), or off (0) and empty.
NAPI_METHOD(native_reads_configure) {
  NAPI_ARGV(1)
  NAPI_ARGV_UINT32(max_blocks, 0)
  pthread_mutex_lock(&nr.lock);
  nr.max_blocks = max_blocks;
  if (max_blocks == 0) nr_clear_locked();
  pthread_mutex_unlock(&nr.lock);
  return NULL;
}

// (version, blockSize, objectSize, index, fd, fileOffset, length) -> true when registered. The
// descriptor belongs to the binding from then on; when false, the caller keeps it (and closes it).
NAPI_METHOD(native_reads_register) {
  NAPI_ARGV(7)
  NAPI_ARGV_UINT32(version, 0)
  NAPI_ARGV_UINT32(block_size, 1)
  double size_arg, index_arg, offset_arg;
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[2], &size_arg))
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[3], &index_arg))
  NAPI_ARGV_INT32(fd, 4)
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[5], &offset_arg))
  NAPI_ARGV_UINT32(length, 6)
  int kept = 0;
  pthread_mutex_lock(&nr.lock);
  nr_version_t *v = nr_version_locked(version);
  uint64_t index = (uint64_t) index_arg;
  int valid = block_size > 0 && fd >= 0 && length > 0 && length <= block_size && size_arg > 0 && index_arg >= 0 && offset_arg >= 0;
  if (!valid || nr.blocks >= nr.max_blocks || (v != NULL && (v->block_size != block_size || v->size != (uint64_t) size_arg))) {
    nr.refused++;
  } else if (nr_block_locked(version, index) != NULL) {
    nr.refused++;
  } else {
    nr_block_t *b = calloc(1, sizeof(nr_block_t));
    if (v == NULL && b != NULL) {
      v = calloc(1, sizeof(nr_version_t));
      if (v != NULL) {
        v->version = version;
        v->block_size = block_size;
        v->size = (uint64_t) size_arg;
        v->chain = nr.versions[version % NR_BUCKETS];
        nr.versions[version % NR_BUCKETS] = v;
      }
    }
    if (b == NULL || v == NULL) {
      free(b);
      nr.refused++;
    } else {
      b->version = version;
      b->index = index;
      b->fd = fd;
      b->file_offset = (uint64_t) offset_arg;
      b->length = length;
      uint32_t bucket = nr_bucket(version, index);
      b->chain = nr.buckets[bucket];
      nr.buckets[bucket] = b;
      b->next = v->blocks;
      if (v->blocks != NULL) v->blocks->prev = b;
      v->blocks = b;
      nr.blocks++;
      nr.registered++;
      kept = 1;
    }
  }
  pthread_mutex_unlock(&nr.lock);
  napi_value result;
  NAPI_STATUS_THROWS(napi_get_boolean(env, kept, &result))
  return result;
}

// (fh, version): the handle returned bytes of that version; its reads may be answered from the
// version's blocks from now on, whichever handle's reads registered them.
NAPI_METHOD(native_reads_attach) {
  NAPI_ARGV(2)
  NAPI_ARGV_UINT32(fh, 0)
  NAPI_ARGV_UINT32(version, 1)
  pthread_mutex_lock(&nr.lock);
  nr_handle_t *h = nr_handle_locked(fh);
  if (h == NULL && (h = calloc(1, sizeof(nr_handle_t))) != NULL) {
    h->fh = fh;
    h->chain = nr.handles[fh % NR_BUCKETS];
    nr.handles[fh % NR_BUCKETS] = h;
  }
  if (h != NULL) h->version = version;
  pthread_mutex_unlock(&nr.lock);
  return NULL;
}

// (fh): the handle is released: its reads go to JavaScript (the number may be given again).
NAPI_METHOD(native_reads_drop_handle) {
  NAPI_ARGV(1)
  NAPI_ARGV_UINT32(fh, 0)
  pthread_mutex_lock(&nr.lock);
  nr_detach_locked(fh);
  pthread_mutex_unlock(&nr.lock);
  return NULL;
}

// (version, index): one block goes (it left the disk cache, or room was needed).
NAPI_METHOD(native_reads_drop_block) {
  NAPI_ARGV(2)
  NAPI_ARGV_UINT32(version, 0)
  double index_arg;
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[1], &index_arg))
  pthread_mutex_lock(&nr.lock);
  nr_version_t *v = nr_version_locked(version);
  nr_block_t *b = v == NULL ? NULL : nr_block_locked(version, (uint64_t) index_arg);
  if (b != NULL) nr_unlink_block_locked(v, b);
  pthread_mutex_unlock(&nr.lock);
  return NULL;
}

NAPI_METHOD(native_reads_stats) {
  napi_value result;
  NAPI_STATUS_THROWS(napi_create_object(env, &result))
  pthread_mutex_lock(&nr.lock);
  ac_set_number(env, result, "blocks", nr.blocks);
  ac_set_number(env, result, "maxBlocks", nr.max_blocks);
  ac_set_number(env, result, "served", (double) nr.served);
  ac_set_number(env, result, "servedBytes", (double) nr.served_bytes);
  ac_set_number(env, result, "passed", (double) nr.passed);
  ac_set_number(env, result, "fallbacks", (double) nr.fallbacks);
  ac_set_number(env, result, "registered", (double) nr.registered);
  ac_set_number(env, result, "refused", (double) nr.refused);
  ac_set_number(env, result, "dropped", (double) nr.dropped);
  pthread_mutex_unlock(&nr.lock);
  return result;
}

static void nr_export (napi_env env, napi_value exports) {
  NAPI_EXPORT_FUNCTION(native_reads_configure)
  NAPI_EXPORT_FUNCTION(native_reads_register)
  NAPI_EXPORT_FUNCTION(native_reads_attach)
  NAPI_EXPORT_FUNCTION(native_reads_drop_handle)
  NAPI_EXPORT_FUNCTION(native_reads_drop_block)
  NAPI_EXPORT_FUNCTION(native_reads_stats)
}
