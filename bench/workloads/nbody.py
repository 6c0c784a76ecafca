"""Float arithmetic on object attributes: the Benchmarks Game n-body simulation (Jovian planets)."""
import math

STEPS = 150_000


class Body:
    __slots__ = ("x", "y", "z", "vx", "vy", "vz", "mass")

    def __init__(self, x, y, z, vx, vy, vz, mass):
        self.x = x
        self.y = y
        self.z = z
        self.vx = vx
        self.vy = vy
        self.vz = vz
        self.mass = mass

    def kinetic_energy(self):
        return 0.5 * self.mass * (self.vx * self.vx + self.vy * self.vy + self.vz * self.vz)

    def drift(self, dt):
        self.x += dt * self.vx
        self.y += dt * self.vy
        self.z += dt * self.vz


def make_bodies():
    pi = 3.141592653589793
    solar_mass = 4.0 * pi * pi
    days_per_year = 365.24
    sun = Body(x=0.0, y=0.0, z=0.0, vx=0.0, vy=0.0, vz=0.0, mass=solar_mass)
    jupiter = Body(
        x=4.84143144246472090,
        y=-1.16032004402742839,
        z=-1.03622044471123109e-01,
        vx=1.66007664274403694e-03 * days_per_year,
        vy=7.69901118419740425e-03 * days_per_year,
        vz=-6.90460016972063023e-05 * days_per_year,
        mass=9.54791938424326609e-04 * solar_mass)
    saturn = Body(
        x=8.34336671824457987,
        y=4.12479856412430479,
        z=-4.03523417114321381e-01,
        vx=-2.76742510726862411e-03 * days_per_year,
        vy=4.99852801234917238e-03 * days_per_year,
        vz=2.30417297573763929e-05 * days_per_year,
        mass=2.85885980666130812e-04 * solar_mass)
    uranus = Body(
        x=12.8943695621391310,
        y=-15.1111514016986312,
        z=-2.23307578892655734e-01,
        vx=2.96460137564761618e-03 * days_per_year,
        vy=2.37847173959480950e-03 * days_per_year,
        vz=-2.96589568540237556e-05 * days_per_year,
        mass=4.36624404335156298e-05 * solar_mass)
    neptune = Body(
        x=15.3796971148509165,
        y=-25.9193146099879641,
        z=1.79258772950371181e-01,
        vx=2.68067772490389322e-03 * days_per_year,
        vy=1.62824170038242295e-03 * days_per_year,
        vz=-9.51592254519715870e-05 * days_per_year,
        mass=5.15138902046611451e-05 * solar_mass)
    return [sun, jupiter, saturn, uranus, neptune]


def offset_momentum(bodies):
    px = 0.0
    py = 0.0
    pz = 0.0
    for b in bodies:
        px += b.vx * b.mass
        py += b.vy * b.mass
        pz += b.vz * b.mass
    sun = bodies[0]
    sun.vx = -px / sun.mass
    sun.vy = -py / sun.mass
    sun.vz = -pz / sun.mass


def energy(bodies):
    e = 0.0
    n = len(bodies)
    for i in range(n):
        bi = bodies[i]
        e += bi.kinetic_energy()
        for j in range(i + 1, n):
            bj = bodies[j]
            dx = bi.x - bj.x
            dy = bi.y - bj.y
            dz = bi.z - bj.z
            e -= (bi.mass * bj.mass) / math.sqrt(dx * dx + dy * dy + dz * dz)
    return e


def advance(bodies, dt):
    n = len(bodies)
    for i in range(n):
        bi = bodies[i]
        for j in range(i + 1, n):
            bj = bodies[j]
            dx = bi.x - bj.x
            dy = bi.y - bj.y
            dz = bi.z - bj.z
            d2 = dx * dx + dy * dy + dz * dz
            mag = dt / (d2 * math.sqrt(d2))
            bjm = bj.mass * mag
            bi.vx -= dx * bjm
            bi.vy -= dy * bjm
            bi.vz -= dz * bjm
            bim = bi.mass * mag
            bj.vx += dx * bim
            bj.vy += dy * bim
            bj.vz += dz * bim
    for b in bodies:
        b.drift(dt)


def main():
    bodies = make_bodies()
    offset_momentum(bodies)
    # Energies are printed as integers (units of 1e-9) so the text is the same in every language.
    print(round(energy(bodies) * 1e9))
    for step in range(STEPS):
        advance(bodies, 0.01)
    print(round(energy(bodies) * 1e9))


if __name__ == "__main__":
    main()
