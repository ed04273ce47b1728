;; Hostile: creates /outputs/flood and writes 64 KiB to it forever, ignoring errors.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 100) "flood")
  (func (export "_start")
    ;; fd 4 is /outputs (fd 3 is /inputs); O_CREAT|O_TRUNC = 9; rights FD_WRITE = 64; new fd at 200
    (if (call $open (i32.const 4) (i32.const 0) (i32.const 100) (i32.const 5) (i32.const 9)
                    (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 200))
      (then unreachable))
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $flood
      (drop (call $write (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $flood))))
