;; Hostile: grows memory 1 MiB at a time until growth fails, then keeps going.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $grow
      (drop (memory.grow (i32.const 16)))
      (br $grow))))
