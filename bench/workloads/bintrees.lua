-- Allocation and recursion: the Benchmarks Game binary-trees program.
-- A node holds its children in a list (empty for a leaf, two elements for an inner node),
-- the same representation as the Noodle version.
local MAX_DEPTH = 13

local function make_tree(depth)
    if depth == 0 then
        return {kids = {}}
    end
    return {kids = {make_tree(depth - 1), make_tree(depth - 1)}}
end

local function check(node)
    if #node.kids == 0 then
        return 1
    end
    return 1 + check(node.kids[1]) + check(node.kids[2])
end

local min_depth = 4
local max_depth = MAX_DEPTH
local stretch_depth = max_depth + 1

local stretch_check = check(make_tree(stretch_depth))
print("stretch tree of depth " .. stretch_depth .. "\t check: " .. stretch_check)

local long_lived = make_tree(max_depth)

local depth = min_depth
while depth <= max_depth do
    local iterations = 1 << (max_depth - depth + min_depth)
    local total = 0
    for i = 1, iterations do
        total = total + check(make_tree(depth))
    end
    print(iterations .. "\t trees of depth " .. depth .. "\t check: " .. total)
    depth = depth + 2
end

local long_check = check(long_lived)
print("long lived tree of depth " .. max_depth .. "\t check: " .. long_check)
