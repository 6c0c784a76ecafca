"""The embedding API behind `noodle.VM`: the VM plus build for source, live upgrade."""
