;; Lists /inputs (fd 3) with a BUFLEN-byte buffer (the test substitutes the number), paging on from the last
;; whole entry's cookie as wasi-libc does, and stats every whole entry by name. Prints, all little-endian:
;;   for each page:  errno:u32, used:u32, the whole BUFLEN-byte buffer
;;                   then for each whole entry in it: errno:u32 of path_filestat_get, and the 64-byte filestat
;;                   when it succeeded
;;   a page that does not fill the buffer ends the listing; one that holds no whole entry prints u32 0xffffffff
;;   at the end:     errno:u32 of fd_filestat_get on /inputs itself, and its 64-byte filestat
(module
  (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; 0: iovec, 8: bytes written, 12: a u32 to print, 16: readdir's `used`, 64: a filestat, 1024: the buffer
  (func $out (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $u32 (param $v i32)
    (i32.store (i32.const 12) (local.get $v))
    (call $out (i32.const 12) (i32.const 4)))
  (func (export "_start")
    (local $cookie i64) (local $errno i32) (local $used i32) (local $off i32) (local $namelen i32)
    (local $whole i32)
    (block $done
      (loop $page
        (local.set $errno
          (call $readdir (i32.const 3) (i32.const 1024) (i32.const BUFLEN) (local.get $cookie) (i32.const 16)))
        (call $u32 (local.get $errno))
        (br_if $done (local.get $errno))
        (local.set $used (i32.load (i32.const 16)))
        (call $u32 (local.get $used))
        ;; the whole buffer, past `used` too: nothing of the host may hide there either
        (call $out (i32.const 1024) (i32.const BUFLEN))
        (local.set $off (i32.const 0))
        (local.set $whole (i32.const 0))
        (block $entries
          (loop $entry
            ;; a whole header, then a whole name
            (br_if $entries (i32.gt_u (i32.add (local.get $off) (i32.const 24)) (local.get $used)))
            (local.set $namelen (i32.load (i32.add (i32.const 1040) (local.get $off))))
            (br_if $entries
              (i32.gt_u (i32.add (i32.add (local.get $off) (i32.const 24)) (local.get $namelen)) (local.get $used)))
            (local.set $cookie (i64.load (i32.add (i32.const 1024) (local.get $off))))
            (local.set $errno
              (call $path_stat (i32.const 3) (i32.const 0) (i32.add (i32.const 1048) (local.get $off))
                               (local.get $namelen) (i32.const 64)))
            (call $u32 (local.get $errno))
            (if (i32.eqz (local.get $errno)) (then (call $out (i32.const 64) (i32.const 64))))
            (local.set $off (i32.add (local.get $off) (i32.add (i32.const 24) (local.get $namelen))))
            (local.set $whole (i32.add (local.get $whole) (i32.const 1)))
            (br $entry)))
        (br_if $done (i32.lt_u (local.get $used) (i32.const BUFLEN)))
        (if (i32.eqz (local.get $whole)) (then (call $u32 (i32.const -1)) (br $done)))
        (br $page)))
    (local.set $errno (call $fd_stat (i32.const 3) (i32.const 64)))
    (call $u32 (local.get $errno))
    (if (i32.eqz (local.get $errno)) (then (call $out (i32.const 64) (i32.const 64))))))
