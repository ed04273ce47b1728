;; Prints "hello\n" and writes /outputs/greeting.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "hello\n")
  (data (i32.const 100) "greeting")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (call $open (i32.const 4) (i32.const 0) (i32.const 100) (i32.const 8) (i32.const 9)
                    (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 200))
      (then unreachable))
    (drop (call $write (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i32.const 8)))))
