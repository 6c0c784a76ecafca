-- String building: many small strings made by concatenation and tostring(), then one concat.
local N = 1500000

local parts = {}
for i = 0, N - 1 do
    parts[#parts + 1] = "item" .. i .. "=" .. tostring(i * 7 % 1000)
end
local s = table.concat(parts, ";")
local n = #s
print(n)
print(string.sub(s, 1, 40))
print(string.sub(s, n - 40 + 1, n))
