import { summarizeProfile, formatProfile } from '/work/main/bench/profile.ts';
const s = summarizeProfile(process.argv[2], 40);
console.log(formatProfile ? formatProfile(s) : JSON.stringify(s, null, 1));
