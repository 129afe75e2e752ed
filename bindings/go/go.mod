module mmapkit.org/bindings/go

go 1.19
