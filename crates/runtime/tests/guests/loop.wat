;; Hostile: spins forever. Stopped by fuel (or by the deadline when fuel is plentiful).
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever))))
