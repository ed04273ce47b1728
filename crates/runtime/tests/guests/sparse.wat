;; Hostile: creates /outputs/sparse and writes one byte at offset 1 TiB (a sparse file far over any cap).
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "sparse")
  (data (i32.const 64) "x")
  (func (export "_start")
    ;; fd 4 is /outputs; O_CREAT|O_TRUNC = 9; rights FD_WRITE = 64; new fd at 200
    (if (call $open (i32.const 4) (i32.const 0) (i32.const 100) (i32.const 6) (i32.const 9)
                    (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 200))
      (then unreachable))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 1))
    (drop (call $pwrite (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i64.const 0x10000000000)
                        (i32.const 8)))))
