;; Hostile: declares 512 MiB of initial memory, more than the job allows.
(module
  (memory (export "memory") 8192)
  (func (export "_start")))
