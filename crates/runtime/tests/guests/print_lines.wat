;; Prints 265,000 short lines to stdout, then appends 1,000 short lines to /outputs/log, one write each:
;; the output checks must not cost a walk of /outputs per write.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "log")
  (data (i32.const 64) "line\n")
  (func (export "_start")
    (local $i i32)
    ;; one iovec at 0: the 5 bytes at 64
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 5))
    (local.set $i (i32.const 265000))
    (loop $stdout
      (if (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $stdout (local.get $i)))
    ;; fd 4 is /outputs; O_CREAT|O_TRUNC = 9; rights FD_WRITE = 64; new fd at 200
    (if (call $open (i32.const 4) (i32.const 0) (i32.const 100) (i32.const 3) (i32.const 9)
                    (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 200))
      (then unreachable))
    (local.set $i (i32.const 1000))
    (loop $file
      (if (call $write (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $file (local.get $i)))))
