;; The shadowed file calls keep wasmtime-wasi's errors. Prints one byte per call, the errno it got:
;;   0: fd_readdir on fd 99 (not open)         2: path_filestat_get on /inputs + "missing"
;;   1: fd_readdir on fd 1 (stdout, no folder)  3: fd_filestat_get on fd 99
;; then, when the first argument is "trap", calls fd_readdir on /inputs with a buffer past the end of memory
;; (WASI: the call traps).
(module
  (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "missing")
  (func (export "_start")
    (i32.store8 (i32.const 0)
      (call $readdir (i32.const 99) (i32.const 1024) (i32.const 256) (i64.const 0) (i32.const 16)))
    (i32.store8 (i32.const 1)
      (call $readdir (i32.const 1) (i32.const 1024) (i32.const 256) (i64.const 0) (i32.const 16)))
    (i32.store8 (i32.const 2)
      (call $path_stat (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 7) (i32.const 64)))
    (i32.store8 (i32.const 3) (call $fd_stat (i32.const 99) (i32.const 64)))
    (i32.store (i32.const 200) (i32.const 0))
    (i32.store (i32.const 204) (i32.const 4))
    (drop (call $write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 208)))
    ;; two arguments (argv[0] and "trap"): the out-of-bounds call
    (drop (call $args_sizes (i32.const 300) (i32.const 304)))
    (if (i32.eq (i32.load (i32.const 300)) (i32.const 2))
      (then
        (drop (call $readdir (i32.const 3) (i32.const 65500) (i32.const 4096) (i64.const 0) (i32.const 16)))))))
