-- Text processing: generate a deterministic text, split it into words and count them in a table.
local N = 1500000

local vocab = {"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing",
    "elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et",
    "dolore", "magna", "aliqua", "noodle", "bench", "map", "list", "struct"}
local nv = #vocab

-- Words chosen by a small linear congruential generator (values stay below 2^62).
local words = {}
local seed = 42
for i = 0, N - 1 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    words[#words + 1] = vocab[(seed // 65536) % nv + 1]
end
local text = table.concat(words, " ")

local ntokens = 0
local counts = {}
for w in string.gmatch(text, "[^ ]+") do
    ntokens = ntokens + 1
    counts[w] = (counts[w] or 0) + 1
end

local keys = {}
for k in pairs(counts) do
    keys[#keys + 1] = k
end
table.sort(keys)
print(#text .. " " .. ntokens .. " " .. #keys)
for _, k in ipairs(keys) do
    print(k .. " " .. counts[k])
end
