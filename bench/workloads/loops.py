"""Integer arithmetic in nested counted loops."""
N = 3000


def main():
    total = 0
    for i in range(N):
        for j in range(N):
            total += (i * j) % 7
    print(total)


if __name__ == "__main__":
    main()
