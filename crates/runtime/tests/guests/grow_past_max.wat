;; Grows past its own declared maximum (2 pages): WebAssembly answers -1, the same on every host, and this
;; guest traps on purpose when it sees it. Not the host's failure, not the job's memory limit: a result.
(module
  (memory (export "memory") 1 2)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 4)) (i32.const -1))
      (then unreachable))))
