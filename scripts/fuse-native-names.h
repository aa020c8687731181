// s3mount: names that are not UTF-8 are refused (EILSEQ) on the libfuse thread. The binding
// hands every name to JavaScript as a UTF-8 string, in which each invalid byte becomes U+FFFD:
// `\xff` and `\xfe` were one file (the second overwrote the first), and a symbolic link's
// target came back with other bytes. S3 keys are UTF-8, so no such name can exist there.
// scripts/patch-fuse-native.mjs copies this file next to fuse-native.c; the read cache's
// header includes it, and nr_before asks names_refused first for every operation.

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
static int names_utf8 (const unsigned char *s) {
  while (*s) {
    unsigned char c = *s;
    if (c < 0x80) {
      s++;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    // A continuation byte is never 0, so a name cut short stops here.
    for (int i = 1; i <= n; i++) {
      if ((s[i] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    s += n + 1;
  }
  return 1;
}

// 1 when the operation names something that is not UTF-8 (its path, or the second name of a
// rename, link or symlink: a symlink's target included).
static int names_refused (fuse_thread_locals_t *l) {
  if (l->path != NULL && !names_utf8((const unsigned char *) l->path)) return 1;
  if ((l->op == op_rename || l->op == op_link || l->op == op_symlink) && l->dest != NULL && !names_utf8((const unsigned char *) l->dest)) return 1;
  return 0;
}
