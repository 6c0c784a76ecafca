"""String building: many small strings made by interpolation and str(), then one join."""
N = 1_500_000


def main():
    parts = []
    for i in range(N):
        parts.append(f"item{i}=" + str(i * 7 % 1000))
    s = ";".join(parts)
    n = len(s)
    print(n)
    print(s[0:40])
    print(s[n - 40:n])


if __name__ == "__main__":
    main()
