"""Allocation and recursion: the Benchmarks Game binary-trees program.

A node holds its children in a list (empty for a leaf, two elements for an inner node),
the same representation as the Noodle version.
"""
MAX_DEPTH = 13


class Node:
    __slots__ = ("kids",)

    def __init__(self, kids):
        self.kids = kids


def make_tree(depth):
    if depth == 0:
        return Node([])
    return Node([make_tree(depth - 1), make_tree(depth - 1)])


def check(node):
    if len(node.kids) == 0:
        return 1
    return 1 + check(node.kids[0]) + check(node.kids[1])


def main():
    min_depth = 4
    max_depth = MAX_DEPTH
    stretch_depth = max_depth + 1

    stretch_check = check(make_tree(stretch_depth))
    print(f"stretch tree of depth {stretch_depth}\t check: {stretch_check}")

    long_lived = make_tree(max_depth)

    depth = min_depth
    while depth <= max_depth:
        iterations = 1 << (max_depth - depth + min_depth)
        total = 0
        for i in range(iterations):
            total += check(make_tree(depth))
        print(f"{iterations}\t trees of depth {depth}\t check: {total}")
        depth += 2

    long_check = check(long_lived)
    print(f"long lived tree of depth {max_depth}\t check: {long_check}")


if __name__ == "__main__":
    main()
