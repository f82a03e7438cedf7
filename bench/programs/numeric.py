"""Float-heavy numeric loop: n-body simulation (many float locals per line)."""
import sys

PI = 3.14159265358979323
DAYS_PER_YEAR = 365.24
SOLAR_MASS = 4 * PI * PI


def make_bodies():
    return [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, SOLAR_MASS],
        [4.84, -1.16, -0.10, 1.66e-03 * DAYS_PER_YEAR, 7.69e-03 * DAYS_PER_YEAR,
         -6.90e-05 * DAYS_PER_YEAR, 9.54e-04 * SOLAR_MASS],
        [8.34, 4.12, -0.40, -2.76e-03 * DAYS_PER_YEAR, 4.99e-03 * DAYS_PER_YEAR,
         2.30e-05 * DAYS_PER_YEAR, 2.85e-04 * SOLAR_MASS],
        [12.89, -15.11, -0.22, 2.96e-03 * DAYS_PER_YEAR, 2.37e-03 * DAYS_PER_YEAR,
         -2.96e-05 * DAYS_PER_YEAR, 4.36e-05 * SOLAR_MASS],
        [15.37, -25.91, 0.17, 2.68e-03 * DAYS_PER_YEAR, 1.62e-03 * DAYS_PER_YEAR,
         -9.51e-05 * DAYS_PER_YEAR, 5.15e-05 * SOLAR_MASS],
    ]


def advance(bodies, dt):
    n = len(bodies)
    for i in range(n):
        b1 = bodies[i]
        for j in range(i + 1, n):
            b2 = bodies[j]
            dx = b1[0] - b2[0]
            dy = b1[1] - b2[1]
            dz = b1[2] - b2[2]
            dist2 = dx * dx + dy * dy + dz * dz
            mag = dt / (dist2 * dist2 ** 0.5)
            m1 = b1[6] * mag
            m2 = b2[6] * mag
            b1[3] -= dx * m2
            b1[4] -= dy * m2
            b1[5] -= dz * m2
            b2[3] += dx * m1
            b2[4] += dy * m1
            b2[5] += dz * m1
    for body in bodies:
        body[0] += dt * body[3]
        body[1] += dt * body[4]
        body[2] += dt * body[5]


def energy(bodies):
    e = 0.0
    for i, b1 in enumerate(bodies):
        e += 0.5 * b1[6] * (b1[3] ** 2 + b1[4] ** 2 + b1[5] ** 2)
        for b2 in bodies[i + 1:]:
            dist = ((b1[0] - b2[0]) ** 2 + (b1[1] - b2[1]) ** 2 + (b1[2] - b2[2]) ** 2) ** 0.5
            e -= b1[6] * b2[6] / dist
    return e


def main(steps):
    bodies = make_bodies()
    before = energy(bodies)
    for _ in range(steps):
        advance(bodies, 0.01)
    print(f"nbody({steps}) energy {before:.9f} -> {energy(bodies):.9f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
