;; Hostile: reads the wall clock, the monotonic clock and 8 random bytes 1000 times, then prints all 24000
;; bytes. In the sandbox every replica must print the same bytes.
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32) (local $at i32)
    (loop $read
      (local.set $at (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 24))))
      (drop (call $clock (i32.const 0) (i64.const 1) (local.get $at)))
      (drop (call $clock (i32.const 1) (i64.const 1) (i32.add (local.get $at) (i32.const 8))))
      (drop (call $random (i32.add (local.get $at) (i32.const 16)) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $read (i32.lt_u (local.get $i) (i32.const 1000))))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 24000))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
