;; Fault injection (test builds only): stats the marker path that makes the host function layer panic.
(module
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $stat (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "ocean-fault-injection-panic-host")
  (func (export "_start")
    ;; fd 4 is /outputs; the filestat goes to 256
    (drop (call $stat (i32.const 4) (i32.const 0) (i32.const 100) (i32.const 32) (i32.const 256)))))
