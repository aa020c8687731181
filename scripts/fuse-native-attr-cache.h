// s3mount: an attribute cache inside fuse-native, so that a getattr whose answer JavaScript
// gave already is answered on the libfuse thread without entering JavaScript (each trip to
// the event loop and back costs tens of microseconds). scripts/patch-fuse-native.mjs copies
// this file next to fuse-native.c, includes it there and calls the hooks below.
//
// The rules, all applied here:
// - JavaScript answers a getattr with a stat and how long (ms) that answer stays true unless
//   something changes it (src/fuse/adapter.ts); the FUSE thread that asked keeps it until then.
//   Only files, directories and symbolic links are kept; failures never are.
// - Every operation that can change what getattr answers drops the paths it touches (and
//   their parent directory when entries come or go, everything under both names of a rename
//   and under a removed directory), before JavaScript sees it and again after it answered.
//   JavaScript drops what it learns otherwise (invalidations), through the functions exported.
// - An answer is kept only when nothing dropped its path (nor a tree, nor everything) since its
//   getattr began: a generation counter per stripe of paths, and one for trees and clears,
//   compared under the lock. An answer computed before a change is thus never kept after it.
//
// One cache per process (s3mount serves one mount per process); it is off until configured.

#include <time.h>

// Generation counters, by path hash: a drop refuses only the answers in flight for paths of
// its stripe.
#define AC_STRIPES 1024
// Counts of cached entries under each directory, by the directory's hash (false positives
// only cost a scan): dropping under a name with nothing cached below it, as every rename of
// a file does, costs no scan of the whole cache.
#define AC_UNDER_SLOTS 65536

#define AC_FNV_OFFSET 14695981039346656037ULL
#define AC_FNV_PRIME 1099511628211ULL

typedef struct ac_entry {
  struct ac_entry *chain;         // next in its hash bucket
  struct ac_entry *older, *newer; // insertion order: the oldest goes first when full
  uint64_t hash;
  uint64_t expires;               // CLOCK_MONOTONIC, ms
  struct stat st;
  size_t len;
  char path[];
} ac_entry_t;

static struct {
  pthread_mutex_t lock;
  uint32_t max_entries;           // 0: off
  uint32_t entries;
  uint32_t mask;                  // buckets - 1
  ac_entry_t **buckets;
  ac_entry_t *oldest, *newest;
  uint64_t stripe_generation[AC_STRIPES];
  uint64_t tree_generation;
  uint32_t under[AC_UNDER_SLOTS];
  uint64_t hits, misses, stored, refused, dropped, evicted, expired;
} ac = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t ac_now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t ac_hash (const char *path, size_t len) {
  uint64_t h = AC_FNV_OFFSET;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char) path[i]) * AC_FNV_PRIME;
  return h;
}

// Adds delta to the count of every directory above path: "/a/b/c" counts for "/a" and "/a/b"
// (the hash of a path's first i bytes is the hash so far when byte i is reached).
static void ac_count_under (const char *path, size_t len, uint32_t delta) {
  uint64_t h = AC_FNV_OFFSET;
  for (size_t i = 0; i < len; i++) {
    if (path[i] == '/' && i > 0) ac.under[h & (AC_UNDER_SLOTS - 1)] += delta;
    h = (h ^ (unsigned char) path[i]) * AC_FNV_PRIME;
  }
}

// Length of the parent directory's path: "/a/b" → "/a", "/a" → "/".
static size_t ac_parent_len (const char *path, size_t len) {
  while (len > 0 && path[len - 1] != '/') len--;
  return len > 1 ? len - 1 : 1;
}

// Whether path is well-formed UTF-8. JavaScript receives paths as strings, with other bytes
// replaced (U+FFFD), so the drops it sends could never name such an entry: none is kept.
static int ac_utf8 (const unsigned char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > len) return 0;
    for (size_t k = 1; k < n; k++) if ((s[i + k] & 0xc0) != 0x80) return 0;
    // No overlong forms, no surrogates, nothing above U+10FFFF.
    if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) || (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f)) return 0;
    i += n;
  }
  return 1;
}

static uint64_t ac_generation_locked (uint64_t h) {
  return ac.stripe_generation[h & (AC_STRIPES - 1)] + ac.tree_generation;
}

// The slot that points at path's entry, or at the NULL ending its bucket.
static ac_entry_t **ac_slot_locked (const char *path, size_t len, uint64_t h) {
  ac_entry_t **at = &ac.buckets[h & ac.mask];
  while (*at != NULL && !((*at)->hash == h && (*at)->len == len && memcmp((*at)->path, path, len) == 0)) at = &(*at)->chain;
  return at;
}

static void ac_remove_locked (ac_entry_t **at) {
  ac_entry_t *e = *at;
  *at = e->chain;
  if (e->older != NULL) e->older->newer = e->newer; else ac.oldest = e->newer;
  if (e->newer != NULL) e->newer->older = e->older; else ac.newest = e->older;
  ac_count_under(e->path, e->len, (uint32_t) -1);
  ac.entries--;
  free(e);
}

static void ac_clear_locked (void) {
  ac.tree_generation++;
  for (ac_entry_t *e = ac.oldest, *next; e != NULL; e = next) {
    next = e->newer;
    free(e);
    ac.dropped++;
  }
  ac.oldest = ac.newest = NULL;
  ac.entries = 0;
  if (ac.buckets != NULL) memset(ac.buckets, 0, ((size_t) ac.mask + 1) * sizeof(ac_entry_t *));
  memset(ac.under, 0, sizeof(ac.under));
}

static void ac_drop_locked (const char *path, size_t len) {
  uint64_t h = ac_hash(path, len);
  ac.stripe_generation[h & (AC_STRIPES - 1)]++;
  if (ac.buckets == NULL) return;
  ac_entry_t **at = ac_slot_locked(path, len, h);
  if (*at == NULL) return;
  ac_remove_locked(at);
  ac.dropped++;
}

// Everything strictly under the directory path ("/" is everything).
static void ac_drop_under_locked (const char *path, size_t len) {
  if (len <= 1) {
    ac_clear_locked();
    return;
  }
  ac.tree_generation++;
  if (ac.buckets == NULL || ac.under[ac_hash(path, len) & (AC_UNDER_SLOTS - 1)] == 0) return;
  for (ac_entry_t *e = ac.oldest, *next; e != NULL; e = next) {
    next = e->newer;
    if (e->len > len && e->path[len] == '/' && memcmp(e->path, path, len) == 0) {
      ac_remove_locked(ac_slot_locked(e->path, e->len, e->hash));
      ac.dropped++;
    }
  }
}

// What an operation on path may have changed: path itself; with entries, its parent directory
// too (entries came or went); with tree, everything under path as well.
static void ac_drop (const char *path, int entries, int tree) {
  if (path == NULL) return;
  size_t len = strlen(path);
  pthread_mutex_lock(&ac.lock);
  ac_drop_locked(path, len);
  if (entries) ac_drop_locked(path, ac_parent_len(path, len));
  if (tree) ac_drop_under_locked(path, len);
  pthread_mutex_unlock(&ac.lock);
}

// 1 when the cache holds a fresh answer for path (copied into st); else 0, and *generation
// says what the answer JavaScript is about to give must be kept under.
static int ac_lookup (const char *path, struct stat *st, uint64_t *generation) {
  size_t len = strlen(path);
  uint64_t h = ac_hash(path, len);
  int found = 0;
  pthread_mutex_lock(&ac.lock);
  *generation = ac_generation_locked(h);
  if (ac.buckets != NULL) {
    ac_entry_t **at = ac_slot_locked(path, len, h);
    if (*at != NULL && (*at)->expires > ac_now()) {
      *st = (*at)->st;
      found = 1;
      ac.hits++;
    } else {
      if (*at != NULL) {
        ac_remove_locked(at);
        ac.expired++;
      }
      ac.misses++;
    }
  }
  pthread_mutex_unlock(&ac.lock);
  return found;
}

// Keeps st for path until expires (CLOCK_MONOTONIC ms), unless path was dropped since
// generation was read; 1 when kept.
static int ac_store (const char *path, const struct stat *st, uint64_t expires, uint64_t generation) {
  if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode)) return 0;
  size_t len = strlen(path);
  if (!ac_utf8((const unsigned char *) path, len)) return 0;
  uint64_t h = ac_hash(path, len);
  int kept = 0;
  pthread_mutex_lock(&ac.lock);
  if (ac.buckets != NULL && expires > ac_now()) {
    if (ac_generation_locked(h) != generation) {
      ac.refused++;
    } else {
      ac_entry_t **at = ac_slot_locked(path, len, h);
      if (*at != NULL) ac_remove_locked(at);
      while (ac.entries >= ac.max_entries && ac.oldest != NULL) {
        ac_entry_t *oldest = ac.oldest;
        ac_remove_locked(ac_slot_locked(oldest->path, oldest->len, oldest->hash));
        ac.evicted++;
      }
      ac_entry_t *e = malloc(sizeof(ac_entry_t) + len + 1);
      if (e != NULL) {
        e->hash = h;
        e->expires = expires;
        e->st = *st;
        e->len = len;
        memcpy(e->path, path, len + 1);
        e->chain = ac.buckets[h & ac.mask];
        ac.buckets[h & ac.mask] = e;
        e->older = ac.newest;
        e->newer = NULL;
        if (ac.newest != NULL) ac.newest->newer = e; else ac.oldest = e;
        ac.newest = e;
        ac_count_under(path, len, 1);
        ac.entries++;
        ac.stored++;
        kept = 1;
      }
    }
  }
  pthread_mutex_unlock(&ac.lock);
  return kept;
}

// At most max_entries entries from now on; 0 turns the cache off. Either way it starts empty.
static void ac_configure (uint32_t max_entries) {
  pthread_mutex_lock(&ac.lock);
  ac_clear_locked();
  free(ac.buckets);
  ac.buckets = NULL;
  ac.mask = 0;
  ac.max_entries = 0;
  if (max_entries > 0) {
    uint32_t buckets = 1;
    while (buckets < max_entries && buckets < (1u << 30)) buckets <<= 1;
    ac.buckets = calloc(buckets, sizeof(ac_entry_t *));
    if (ac.buckets != NULL) {
      ac.mask = buckets - 1;
      ac.max_entries = max_entries;
    }
  }
  pthread_mutex_unlock(&ac.lock);
}

// What an operation other than getattr may change, by operation.
static void ac_changed (fuse_thread_locals_t *l) {
  uint32_t op = l->op;
  if (op == op_write || op == op_truncate || op == op_ftruncate || op == op_fallocate || op == op_chmod || op == op_chown || op == op_utimens ||
      op == op_open || op == op_read || op == op_flush || op == op_fsync || op == op_release ||
      op == op_setxattr || op == op_removexattr) {
    ac_drop(l->path, 0, 0);
  } else if (op == op_create || op == op_mknod || op == op_mkdir || op == op_unlink) {
    ac_drop(l->path, 1, 0);
  } else if (op == op_symlink || op == op_link) {
    ac_drop(l->dest, 1, 0); // (target or existing name, new name)
  } else if (op == op_rmdir) {
    ac_drop(l->path, 1, 1);
  } else if (op == op_rename) {
    ac_drop(l->path, 1, 1);
    ac_drop(l->dest, 1, 1);
  }
}

// Called by every operation before it goes to JavaScript: 1 when the cache answered it.
static int ac_before (fuse_thread_locals_t *l) {
  if (l->op == op_getattr) {
    l->ac_expires = 0;
    return ac_lookup(l->path, l->stat, &l->ac_generation);
  }
  ac_changed(l);
  return 0;
}

// Called by every operation once JavaScript answered it (l->res is its result).
static void ac_after (fuse_thread_locals_t *l) {
  if (l->op == op_getattr) {
    if (l->res == 0 && l->ac_expires != 0) ac_store(l->path, l->stat, l->ac_expires, l->ac_generation);
    return;
  }
  ac_changed(l);
}

// The getattr answer's last slot, after the stat (index.js's keptStat): how long it may be kept.
static void ac_note_answer (fuse_thread_locals_t *l, const uint32_t *ints, size_t bytes) {
  l->ac_expires = (bytes >= 22 * sizeof(uint32_t) && ints[21] > 0) ? ac_now() + ints[21] : 0;
}

// JavaScript's side: configure, drops, statistics, and lookup and store for tests.

#ifdef __APPLE__
#define AC_MTIME st_mtimespec
#else
#define AC_MTIME st_mtim
#endif

// A path argument, whole (no length limit here), from a string or (tests: any bytes) a
// Buffer; NULL when out of memory.
static char *ac_string (napi_env env, napi_value value, int *not_string) {
  size_t len;
  char *s;
  bool buffer = false;
  napi_is_buffer(env, value, &buffer);
  if (buffer) {
    void *data;
    *not_string = napi_get_buffer_info(env, value, &data, &len) != napi_ok;
    if (*not_string) return NULL;
    s = malloc(len + 1);
    if (s != NULL) {
      memcpy(s, data, len);
      s[len] = 0;
    }
    return s;
  }
  *not_string = napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok;
  if (*not_string) return NULL;
  s = malloc(len + 1);
  if (s != NULL) napi_get_value_string_utf8(env, value, s, len + 1, &len);
  return s;
}

#define AC_ARGV_PATH(name, i)\
  int name##_not_string;\
  char *name = ac_string(env, argv[i], &name##_not_string);\
  if (name##_not_string) {\
    napi_throw_type_error(env, NULL, "path must be a string");\
    return NULL;\
  }

NAPI_METHOD(attr_cache_configure) {
  NAPI_ARGV(1)
  NAPI_ARGV_UINT32(max_entries, 0)
  ac_configure(max_entries);
  return NULL;
}

// (path, entries, tree): as an operation on path would (see ac_drop).
// Out of memory for the path: everything goes, rather than a stale entry staying.
NAPI_METHOD(attr_cache_drop) {
  NAPI_ARGV(3)
  NAPI_ARGV_UINT32(entries, 1)
  NAPI_ARGV_UINT32(tree, 2)
  AC_ARGV_PATH(path, 0)
  if (path == NULL) {
    pthread_mutex_lock(&ac.lock);
    ac_clear_locked();
    pthread_mutex_unlock(&ac.lock);
    return NULL;
  }
  ac_drop(path, entries != 0, tree != 0);
  free(path);
  return NULL;
}

NAPI_METHOD(attr_cache_clear) {
  pthread_mutex_lock(&ac.lock);
  ac_clear_locked();
  pthread_mutex_unlock(&ac.lock);
  return NULL;
}

static void ac_set_number (napi_env env, napi_value object, const char *name, double value) {
  napi_value number;
  napi_create_double(env, value, &number);
  napi_set_named_property(env, object, name, number);
}

NAPI_METHOD(attr_cache_stats) {
  napi_value result;
  NAPI_STATUS_THROWS(napi_create_object(env, &result))
  pthread_mutex_lock(&ac.lock);
  double values[] = { ac.entries, ac.max_entries, ac.hits, ac.misses, ac.stored, ac.refused, ac.dropped, ac.evicted, ac.expired };
  pthread_mutex_unlock(&ac.lock);
  const char *names[] = { "entries", "maxEntries", "hits", "misses", "stored", "refused", "dropped", "evicted", "expired" };
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) ac_set_number(env, result, names[i], values[i]);
  return result;
}

// (path) → { generation, stat: { mode, size, mtimeMs } or null }, as a getattr would find it.
NAPI_METHOD(attr_cache_lookup) {
  NAPI_ARGV(1)
  AC_ARGV_PATH(path, 0)
  if (path == NULL) return NULL;
  struct stat st;
  uint64_t generation;
  int found = ac_lookup(path, &st, &generation);
  free(path);
  napi_value result, stat;
  NAPI_STATUS_THROWS(napi_create_object(env, &result))
  ac_set_number(env, result, "generation", (double) generation);
  if (found) {
    NAPI_STATUS_THROWS(napi_create_object(env, &stat))
    ac_set_number(env, stat, "mode", st.st_mode);
    ac_set_number(env, stat, "size", (double) st.st_size);
    ac_set_number(env, stat, "mtimeMs", (double) st.AC_MTIME.tv_sec * 1000 + st.AC_MTIME.tv_nsec / 1000000);
  } else {
    NAPI_STATUS_THROWS(napi_get_null(env, &stat))
  }
  napi_set_named_property(env, result, "stat", stat);
  return result;
}

// (path, mode, size, mtimeMs, keepMs, generation) → kept?, as a getattr answer would be kept.
NAPI_METHOD(attr_cache_store) {
  NAPI_ARGV(6)
  NAPI_ARGV_UINT32(mode, 1)
  double size, mtime_ms, keep_ms, generation;
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[2], &size))
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[3], &mtime_ms))
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[4], &keep_ms))
  NAPI_STATUS_THROWS(napi_get_value_double(env, argv[5], &generation))
  AC_ARGV_PATH(path, 0)
  if (path == NULL) return NULL;
  struct stat st;
  memset(&st, 0, sizeof(st));
  st.st_mode = mode;
  st.st_size = (off_t) size;
  st.AC_MTIME.tv_sec = (time_t) (mtime_ms / 1000);
  st.AC_MTIME.tv_nsec = (long) ((uint64_t) mtime_ms % 1000) * 1000000;
  int kept = keep_ms >= 1 && ac_store(path, &st, ac_now() + (uint64_t) keep_ms, (uint64_t) generation);
  free(path);
  napi_value result;
  NAPI_STATUS_THROWS(napi_get_boolean(env, kept, &result))
  return result;
}

// (path, stat array with its keep slot, as index.js's keptStat makes it) → kept?: an answer
// JavaScript learned before any getattr asked (a HEAD sent ahead came back), kept as that
// getattr's answer would be. JavaScript works the answer out on its one thread just before
// this call, so the generation is read here: every drop JavaScript makes is ordered with it,
// and an operation's drop that comes between is repeated once JavaScript answered that
// operation (ac_after), before the operation returns.
NAPI_METHOD(attr_cache_prime) {
  NAPI_ARGV(2)
  NAPI_ARGV_BUFFER_CAST(uint32_t *, ints, 1)
  if (ints_len < 22 * sizeof(uint32_t) || ints[21] == 0) {
    napi_value refused;
    NAPI_STATUS_THROWS(napi_get_boolean(env, false, &refused))
    return refused;
  }
  AC_ARGV_PATH(path, 0)
  if (path == NULL) return NULL;
  struct stat st;
  memset(&st, 0, sizeof(st));
  populate_stat(ints, &st);
  size_t len = strlen(path);
  pthread_mutex_lock(&ac.lock);
  uint64_t generation = ac_generation_locked(ac_hash(path, len));
  pthread_mutex_unlock(&ac.lock);
  int kept = ac_store(path, &st, ac_now() + ints[21], generation);
  free(path);
  napi_value result;
  NAPI_STATUS_THROWS(napi_get_boolean(env, kept, &result))
  return result;
}

static void ac_export (napi_env env, napi_value exports) {
  NAPI_EXPORT_FUNCTION(attr_cache_configure)
  NAPI_EXPORT_FUNCTION(attr_cache_drop)
  NAPI_EXPORT_FUNCTION(attr_cache_clear)
  NAPI_EXPORT_FUNCTION(attr_cache_stats)
  NAPI_EXPORT_FUNCTION(attr_cache_lookup)
  NAPI_EXPORT_FUNCTION(attr_cache_store)
  NAPI_EXPORT_FUNCTION(attr_cache_prime)
}
