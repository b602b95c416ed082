/** Stored layout, the same as .git/lfs/objects: <oid[0:2]>/<oid[2:4]>/<oid>. */
export const objectKey = (oid: string): string[] => [oid.slice(0, 2), oid.slice(2, 4), oid];
