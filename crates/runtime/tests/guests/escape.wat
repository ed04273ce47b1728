;; Hostile: tries to leave the sandbox. Prints one byte per attempt: the WASI errno it got (0 = it worked).
;;   0: /inputs  + "../etc/passwd"            4: /outputs + symlink "link" -> "/etc"
;;   1: /inputs  + "/etc/passwd"              5: /outputs + "link/passwd" (through that symlink)
;;   2: /outputs + "../../../../etc/passwd"   6: fd 5 (no such preopen) + "etc/passwd"
;;   3: /inputs  + create "planted" for writing
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink" (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "../etc/passwd")
  (data (i32.const 200) "/etc/passwd")
  (data (i32.const 300) "../../../../etc/passwd")
  (data (i32.const 400) "planted")
  (data (i32.const 450) "/etc")
  (data (i32.const 460) "link")
  (data (i32.const 470) "link/passwd")
  (data (i32.const 490) "etc/passwd")
  (func $try (param $fd i32) (param $path i32) (param $len i32) (param $oflags i32) (param $rights i64)
             (param $slot i32)
    (i32.store8 (local.get $slot)
      (call $open (local.get $fd) (i32.const 1) (local.get $path) (local.get $len) (local.get $oflags)
                  (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 600))))
  (func (export "_start")
    (call $try (i32.const 3) (i32.const 100) (i32.const 13) (i32.const 0) (i64.const 2) (i32.const 0))
    (call $try (i32.const 3) (i32.const 200) (i32.const 11) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 4) (i32.const 300) (i32.const 22) (i32.const 0) (i64.const 2) (i32.const 2))
    (call $try (i32.const 3) (i32.const 400) (i32.const 7) (i32.const 1) (i64.const 64) (i32.const 3))
    (i32.store8 (i32.const 4)
      (call $symlink (i32.const 450) (i32.const 4) (i32.const 4) (i32.const 460) (i32.const 4)))
    (call $try (i32.const 4) (i32.const 470) (i32.const 11) (i32.const 0) (i64.const 2) (i32.const 5))
    (call $try (i32.const 5) (i32.const 490) (i32.const 10) (i32.const 0) (i64.const 2) (i32.const 6))
    ;; print the 7 errno bytes
    (i32.store (i32.const 700) (i32.const 0))
    (i32.store (i32.const 704) (i32.const 7))
    (drop (call $write (i32.const 1) (i32.const 700) (i32.const 1) (i32.const 708)))))
