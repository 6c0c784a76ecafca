"""Source -> module file: the compiler driver and Project (front end + passes + bytecode backend)."""
