-- Float arithmetic on table fields: the Benchmarks Game n-body simulation (Jovian planets).
local STEPS = 150000

local sqrt = math.sqrt

local Body = {}
Body.__index = Body

function Body.new(x, y, z, vx, vy, vz, mass)
    return setmetatable({x = x, y = y, z = z, vx = vx, vy = vy, vz = vz, mass = mass}, Body)
end

function Body:kinetic_energy()
    return 0.5 * self.mass * (self.vx * self.vx + self.vy * self.vy + self.vz * self.vz)
end

function Body:drift(dt)
    self.x = self.x + dt * self.vx
    self.y = self.y + dt * self.vy
    self.z = self.z + dt * self.vz
end

local function make_bodies()
    local pi = 3.141592653589793
    local solar_mass = 4.0 * pi * pi
    local days_per_year = 365.24
    local sun = Body.new(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, solar_mass)
    local jupiter = Body.new(
        4.84143144246472090,
        -1.16032004402742839,
        -1.03622044471123109e-01,
        1.66007664274403694e-03 * days_per_year,
        7.69901118419740425e-03 * days_per_year,
        -6.90460016972063023e-05 * days_per_year,
        9.54791938424326609e-04 * solar_mass)
    local saturn = Body.new(
        8.34336671824457987,
        4.12479856412430479,
        -4.03523417114321381e-01,
        -2.76742510726862411e-03 * days_per_year,
        4.99852801234917238e-03 * days_per_year,
        2.30417297573763929e-05 * days_per_year,
        2.85885980666130812e-04 * solar_mass)
    local uranus = Body.new(
        12.8943695621391310,
        -15.1111514016986312,
        -2.23307578892655734e-01,
        2.96460137564761618e-03 * days_per_year,
        2.37847173959480950e-03 * days_per_year,
        -2.96589568540237556e-05 * days_per_year,
        4.36624404335156298e-05 * solar_mass)
    local neptune = Body.new(
        15.3796971148509165,
        -25.9193146099879641,
        1.79258772950371181e-01,
        2.68067772490389322e-03 * days_per_year,
        1.62824170038242295e-03 * days_per_year,
        -9.51592254519715870e-05 * days_per_year,
        5.15138902046611451e-05 * solar_mass)
    return {sun, jupiter, saturn, uranus, neptune}
end

local function offset_momentum(bodies)
    local px, py, pz = 0.0, 0.0, 0.0
    for _, b in ipairs(bodies) do
        px = px + b.vx * b.mass
        py = py + b.vy * b.mass
        pz = pz + b.vz * b.mass
    end
    local sun = bodies[1]
    sun.vx = -px / sun.mass
    sun.vy = -py / sun.mass
    sun.vz = -pz / sun.mass
end

local function energy(bodies)
    local e = 0.0
    local n = #bodies
    for i = 1, n do
        local bi = bodies[i]
        e = e + bi:kinetic_energy()
        for j = i + 1, n do
            local bj = bodies[j]
            local dx = bi.x - bj.x
            local dy = bi.y - bj.y
            local dz = bi.z - bj.z
            e = e - (bi.mass * bj.mass) / sqrt(dx * dx + dy * dy + dz * dz)
        end
    end
    return e
end

local function advance(bodies, dt)
    local n = #bodies
    for i = 1, n do
        local bi = bodies[i]
        for j = i + 1, n do
            local bj = bodies[j]
            local dx = bi.x - bj.x
            local dy = bi.y - bj.y
            local dz = bi.z - bj.z
            local d2 = dx * dx + dy * dy + dz * dz
            local mag = dt / (d2 * sqrt(d2))
            local bjm = bj.mass * mag
            bi.vx = bi.vx - dx * bjm
            bi.vy = bi.vy - dy * bjm
            bi.vz = bi.vz - dz * bjm
            local bim = bi.mass * mag
            bj.vx = bj.vx + dx * bim
            bj.vy = bj.vy + dy * bim
            bj.vz = bj.vz + dz * bim
        end
    end
    for _, b in ipairs(bodies) do
        b:drift(dt)
    end
end

-- Round half to even, like Python's and Noodle's round(), returning an integer.
local function round(x)
    local f = math.floor(x)
    local diff = x - f
    if diff > 0.5 or (diff == 0.5 and f % 2 == 1) then
        f = f + 1
    end
    return math.tointeger(f)
end

local bodies = make_bodies()
offset_momentum(bodies)
-- Energies are printed as integers (units of 1e-9) so the text is the same in every language.
print(round(energy(bodies) * 1e9))
for step = 1, STEPS do
    advance(bodies, 0.01)
end
print(round(energy(bodies) * 1e9))
