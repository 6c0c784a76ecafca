-- Integer arithmetic in nested counted loops.
local N = 3000

local total = 0
for i = 0, N - 1 do
    for j = 0, N - 1 do
        total = total + (i * j) % 7
    end
end
print(total)
